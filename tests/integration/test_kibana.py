"""Kibana saved objects: parseable, stable ids, references resolve, and every field they
name exists (with a fitting type) in the mapping of a real index made by ensure_index."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.models import alert_index, watch_index
from shared.watches.store import WatchStore
from tests.support.indices import drop_dateline_index
from tests.support.paths import KIBANA_DIR

NDJSON = KIBANA_DIR / "dateline.ndjson"
EXPECTED_IDS = {
    "dateline-articles",
    "dateline-search-articles",
    "dateline-search-failures",
    "dateline-lens-over-time",
    "dateline-lens-by-language",
    "dateline-lens-by-source",
    "dateline-lens-top-people",
    "dateline-lens-top-organizations",
    "dateline-lens-top-places",
    "dateline-lens-stories-over-time",
    "dateline-lens-sources-per-story",
    "dateline-lens-carried-from",
    "dateline-overview",
    "dateline-alerts",
    "dateline-search-alerts",
}
AGGREGATABLE = {"keyword", "date", "long", "integer", "float", "boolean"}


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def mapped_fields(es_url: str) -> Iterator[dict[str, str]]:
    es: Elasticsearch = make_client(es_url)
    alias = f"test-{uuid.uuid4().hex[:12]}"
    settings = Settings(elasticsearch_url=es_url, index=alias)
    ensure_index(es, alias, settings)
    WatchStore(es, alias, settings).ensure()  # the alerts' index, for the alerts' data view
    found = es.indices.get_field_mapping(index=[alias, alert_index(alias)], fields="*")
    fields: dict[str, str] = {}
    for index in found.values():
        for name, spec in index["mappings"].items():
            if name.startswith("_"):
                continue  # metadata fields (_id, _source ...)
            leaf = name.rsplit(".", 1)[-1]
            fields[name] = spec["mapping"][leaf]["type"]
    yield fields
    drop_dateline_index(es, alias)
    es.indices.delete(index=[alert_index(alias), watch_index(alias)], ignore_unavailable=True)


def test_file_is_generated_from_generate_py():
    spec = importlib.util.spec_from_file_location("kibana_generate", KIBANA_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert NDJSON.read_text(encoding="utf-8") == module.render(), "run python deploy/kibana/generate.py"


def test_lines_parse_ids_are_stable_unique_and_references_resolve():
    objects = load()
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids))
    assert {i for _, i in ids} == EXPECTED_IDS
    known = set(ids)
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, (obj["id"], ref)
        if obj["type"] == "dashboard":
            panels = json.loads(obj["attributes"]["panelsJSON"])
            names = {r["name"] for r in obj["references"]}
            assert all(f"{p['panelIndex']}:{p['panelRefName']}" in names for p in panels)
            assert {p["type"] for p in panels} == {"lens", "search"}


def referenced_fields(objects: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """(object id, field, needs to be aggregatable) for every field the objects name."""
    found: list[tuple[str, str, bool]] = []
    for obj in objects:
        attrs = obj["attributes"]
        if obj["type"] == "index-pattern":
            found.append((obj["id"], attrs["timeFieldName"], True))
        if obj["type"] == "search":
            found += [(obj["id"], column, False) for column in attrs["columns"]]
            found += [(obj["id"], field, True) for field, _order in attrs["sort"]]
            source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
            found += [(obj["id"], f, False) for f in re.findall(r"([\w.]+):", source["query"]["query"])]
        if obj["type"] == "lens":
            for layer in attrs["state"]["datasourceStates"]["formBased"]["layers"].values():
                for column in layer["columns"].values():
                    if column["sourceField"] != "___records___":
                        found.append((obj["id"], column["sourceField"], True))
    return found


def test_every_named_field_exists_in_the_live_mapping(mapped_fields):
    fields = referenced_fields(load())
    assert len(fields) > 20  # the collector really looked inside the objects
    for object_id, field, aggregatable in fields:
        assert field in mapped_fields, f"{object_id} names {field!r}, which the index does not map"
        if aggregatable:
            assert mapped_fields[field] in AGGREGATABLE, f"{object_id}: {field} is {mapped_fields[field]}"


def test_failures_search_looks_for_failed_stages():
    failures = next(o for o in load() if o["id"] == "dateline-search-failures")
    query = json.loads(failures["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
    assert {
        "provenance.language.status:failed",
        "provenance.entities.status:failed",
        "provenance.summary.status:failed",
    } <= set(query.split(" or "))


def test_setup_script_is_posix_sh():
    script = (KIBANA_DIR / "setup.sh").read_text()
    assert script.startswith("#!/bin/sh") and "_import?overwrite=true" in script and "/api/status" in script


def test_alerts_search_names_only_fields_of_the_alert_mapping():
    from shared.watches.store import alert_mappings

    def leaves(properties: dict[str, Any], prefix: str = "") -> set[str]:
        names = set()
        for name, spec in properties.items():
            names |= (
                leaves(spec["properties"], f"{prefix}{name}.") if "properties" in spec else {prefix + name}
            )
        return names

    mapped = leaves(alert_mappings()["properties"])
    alerts = [o for o in load() if o["id"] in ("dateline-alerts", "dateline-search-alerts")]
    named = {field for _object, field, _agg in referenced_fields(alerts)}
    assert named and named <= mapped, named - mapped
    (view,) = [o for o in alerts if o["type"] == "index-pattern"]
    assert view["attributes"]["title"] == "articles-alerts"  # setup.sh puts the alias in front
