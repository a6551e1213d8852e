"""The Kibana saved objects have the shape Kibana 8.19's ``_import`` expects.

``tests/integration/test_kibana.py`` checks ids, references and fields against a live
mapping; this file checks the structure of each object as the import reads it:

* every line is one object with ``type``, ``id``, ``attributes``, ``references`` (each
  ``{name, type, id}``), ``coreMigrationVersion`` and ``typeMigrationVersion``. The type
  version must not be newer than the newest migration Kibana 8.19 knows for the type, or the
  import fails ("belongs to a more recent version"): ``index-pattern`` and ``search`` were
  converted to multi-namespace at 8.0.0; the last legacy migration of ``lens`` is 8.9.0
  (metric formatter), and ``dashboard`` merges the embeddable (Lens) migrations, so 8.9.0
  is a known dashboard version too. Newer changes are model versions (10.x), above these;
* a dashboard's ``panelsJSON`` panels name their saved object through ``panelRefName``,
  and the references are named ``<panelIndex>:<panelRefName>`` (what Kibana 8.x extracts);
  panels sit on the 48-column grid without overlapping;
* a Lens object stores ``state`` as an object, references its data view once per layer as
  ``indexpattern-datasource-layer-<layerId>``, and the XY visualisation's layers name
  columns the form-based datasource defines (x axis bucketed, y accessors metrics);
* a saved search points at its data view through ``indexRefName``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.paths import KIBANA_DIR

NDJSON = KIBANA_DIR / "dateline.ndjson"
# Newest typeMigrationVersion Kibana 8.19 accepts without a newer release (see above).
NEWEST_KNOWN = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}
GRID_COLUMNS = 48


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines() if line.strip()]


def of_type(kind: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o["type"] == kind]


def test_every_line_is_one_object_with_the_import_fields():
    lines = [line for line in NDJSON.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) == len(objects()) >= 4
    for obj in objects():
        assert {
            "type",
            "id",
            "attributes",
            "references",
            "coreMigrationVersion",
            "typeMigrationVersion",
        } <= set(obj)
        assert isinstance(obj["id"], str) and obj["id"]
        assert isinstance(obj["attributes"], dict) and obj["attributes"].get("title")
        assert isinstance(obj["references"], list)
        for ref in obj["references"]:
            assert set(ref) == {"name", "type", "id"}, (obj["id"], ref)
        names = [ref["name"] for ref in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]  # names are keys for the object


@pytest.mark.parametrize("kind", sorted(NEWEST_KNOWN))
def test_migration_versions_are_ones_kibana_8_19_knows(kind):
    found = of_type(kind)
    assert found, kind
    for obj in found:
        assert version(obj["coreMigrationVersion"]) <= version("8.19.0")
        assert version("8.0.0") <= version(obj["typeMigrationVersion"]) <= version(NEWEST_KNOWN[kind]), obj[
            "id"
        ]
        assert "migrationVersion" not in obj  # the pre-8.8 form; one of the two, not both


def test_dashboard_panels_refer_to_references_by_panel_ref_name():
    known = {(o["type"], o["id"]) for o in objects()}
    for dash in of_type("dashboard"):
        attrs = dash["attributes"]
        panels = json.loads(attrs["panelsJSON"])
        json.loads(attrs["optionsJSON"])
        json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        refs = {ref["name"]: ref for ref in dash["references"]}
        assert len(refs) == len(panels)
        for panel in panels:
            assert {"type", "gridData", "panelIndex", "embeddableConfig", "panelRefName"} <= set(panel)
            assert "id" not in panel  # by-reference panels keep the id in references only
            ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref["type"] == panel["type"] and (ref["type"], ref["id"]) in known
            assert panel["gridData"]["i"] == panel["panelIndex"]
        assert len({p["panelIndex"] for p in panels}) == len(panels)


def test_dashboard_panels_fit_the_grid_without_overlap():
    for dash in of_type("dashboard"):
        cells: set[tuple[int, int]] = set()
        for panel in json.loads(dash["attributes"]["panelsJSON"]):
            grid = panel["gridData"]
            assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0
            assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["panelIndex"]
            mine = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not cells & mine, f"panel {panel['panelIndex']} overlaps another"
            cells |= mine


def test_lens_state_references_and_columns_agree():
    for lens in of_type("lens"):
        attrs = lens["attributes"]
        assert attrs["visualizationType"] == "lnsXY"
        state = attrs["state"]
        assert isinstance(state, dict)  # stored as an object, not a JSON string
        assert {"datasourceStates", "visualization", "query", "filters"} <= set(state)
        layers = state["datasourceStates"]["formBased"]["layers"]
        refs = {ref["name"]: ref for ref in lens["references"]}
        assert set(refs) == {f"indexpattern-datasource-layer-{layer_id}" for layer_id in layers}
        assert all(ref["type"] == "index-pattern" for ref in refs.values())
        for layer in layers.values():
            assert sorted(layer["columnOrder"]) == sorted(layer["columns"])
            for column in layer["columns"].values():
                assert {"label", "dataType", "operationType", "isBucketed", "sourceField"} <= set(column)
        vis = state["visualization"]
        assert vis["layers"] and vis["preferredSeriesType"]
        for vis_layer in vis["layers"]:
            columns = layers[vis_layer["layerId"]]["columns"]
            assert vis_layer["layerType"] == "data" and vis_layer["seriesType"]
            assert columns[vis_layer["xAccessor"]]["isBucketed"] is True
            assert vis_layer["accessors"] and all(
                columns[a]["isBucketed"] is False for a in vis_layer["accessors"]
            )


def test_saved_searches_point_at_their_data_view():
    views = {o["id"] for o in of_type("index-pattern")}
    for saved in of_type("search"):
        source = json.loads(saved["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert "index" not in source  # the id lives in references, as an export writes it
        ref = next(r for r in saved["references"] if r["name"] == source["indexRefName"])
        assert ref["type"] == "index-pattern" and ref["id"] in views
        assert source["query"]["language"] in ("kuery", "lucene")
        assert all(isinstance(pair, list) and len(pair) == 2 for pair in saved["attributes"]["sort"])


def test_stories_are_counted_once_per_day_by_their_sources_and_by_wire():
    columns = {
        o["id"]: next(iter(o["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values()))[
            "columns"
        ]
        for o in of_type("lens")
    }

    def shape(object_id: str) -> tuple[str, str, str, str]:
        bucket, metric = columns[object_id]["bucket"], columns[object_id]["count"]
        return bucket["operationType"], bucket["sourceField"], metric["operationType"], metric["sourceField"]

    # Distinct stories per day: ten outlets carrying one wire story count once.
    assert shape("dateline-lens-stories-over-time") == (
        "date_histogram",
        "published_at",
        "unique_count",
        "story_id",
    )
    assert columns["dateline-lens-stories-over-time"]["bucket"]["params"]["interval"] == "1d"
    # Sources per story: the stories carried by the most outlets first.
    assert shape("dateline-lens-sources-per-story") == ("terms", "story_id", "unique_count", "source")
    assert columns["dateline-lens-sources-per-story"]["bucket"]["params"]["orderBy"]["columnId"] == "count"
    assert shape("dateline-lens-carried-from")[:2] == ("terms", "carried_from")
    on_dashboard = {ref["id"] for dash in of_type("dashboard") for ref in dash["references"]}
    assert {
        "dateline-lens-stories-over-time",
        "dateline-lens-sources-per-story",
        "dateline-lens-carried-from",
    } <= on_dashboard
