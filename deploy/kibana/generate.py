"""Writes ``dateline.ndjson``: Dateline's Kibana saved objects (Kibana 8.19).

Edit this file, not the ndjson: ``python deploy/kibana/generate.py`` rewrites it, and a
test fails while the two differ. Ids are fixed so re-importing overwrites in place.
Visualisations are Lens objects referenced from the dashboard (they import cleanly and
stay editable in Kibana); every field named here is checked against the live mapping by
``tests/integration/test_kibana.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_VIEW_ID = "dateline-articles"
ALERTS_VIEW_ID = "dateline-alerts"
ALIAS = "articles"  # setup.sh rewrites the data view title when DATELINE_INDEX differs
CORE_MIGRATION = "8.8.0"
TYPE_MIGRATION = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}
FAILED_QUERY = (
    "provenance.language.status:failed or provenance.entities.status:failed "
    "or provenance.summary.status:failed"
)
SEARCH_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def saved(kind: str, object_id: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": kind,
        "id": object_id,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION,
        "typeMigrationVersion": TYPE_MIGRATION[kind],
        "managed": False,
    }


def data_view() -> dict[str, Any]:
    return saved(
        "index-pattern",
        DATA_VIEW_ID,
        {"title": ALIAS, "name": "Dateline articles", "timeFieldName": "published_at"},
        [],
    )


def alerts_data_view() -> dict[str, Any]:
    """The watches' alerts (``<alias>-alerts``, shared/watches/models.py): one per watch and article."""
    return saved(
        "index-pattern",
        ALERTS_VIEW_ID,
        {"title": f"{ALIAS}-alerts", "name": "Dateline alerts", "timeFieldName": "matched_at"},
        [],
    )


def saved_search(
    object_id: str,
    title: str,
    columns: list[str],
    query: str,
    view: str = DATA_VIEW_ID,
    sort: str = "published_at",
) -> dict[str, Any]:
    source = {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": SEARCH_INDEX_REF}
    return saved(
        "search",
        object_id,
        {
            "title": title,
            "description": "",
            "columns": columns,
            "sort": [[sort, "desc"]],
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
        },
        [{"name": SEARCH_INDEX_REF, "type": "index-pattern", "id": view}],
    )


COUNT = {
    "label": "Articles",
    "dataType": "number",
    "operationType": "count",
    "isBucketed": False,
    "scale": "ratio",
    "sourceField": "___records___",
    "params": {"emptyAsNull": True},
}


def unique_count(label: str, field: str) -> dict[str, Any]:
    return {**COUNT, "label": label, "operationType": "unique_count", "sourceField": field}


def lens(object_id: str, title: str, bucket: dict[str, Any], series: str, metric: dict[str, Any] = COUNT) -> dict[str, Any]:
    layer = "layer1"
    return saved(
        "lens",
        object_id,
        {
            "title": title,
            "description": "",
            "visualizationType": "lnsXY",
            "state": {
                "datasourceStates": {
                    "formBased": {
                        "layers": {
                            layer: {
                                "columnOrder": ["bucket", "count"],
                                "columns": {"bucket": bucket, "count": metric},
                                "incompleteColumns": {},
                            }
                        }
                    }
                },
                "visualization": {
                    "preferredSeriesType": series,
                    "legend": {"isVisible": False, "position": "right"},
                    "valueLabels": "hide",
                    "layers": [
                        {
                            "layerId": layer,
                            "layerType": "data",
                            "seriesType": series,
                            "xAccessor": "bucket",
                            "accessors": ["count"],
                        }
                    ],
                },
                "query": {"query": "", "language": "kuery"},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        [{"type": "index-pattern", "id": DATA_VIEW_ID, "name": f"indexpattern-datasource-layer-{layer}"}],
    )


def over_time(
    object_id: str = "dateline-lens-over-time",
    title: str = "Dateline: articles over time",
    interval: str = "auto",
    metric: dict[str, Any] = COUNT,
) -> dict[str, Any]:
    bucket = {
        "label": "Published",
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": "published_at",
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": interval, "includeEmptyRows": True, "dropPartials": False},
    }
    return lens(object_id, title, bucket, "bar_stacked", metric)


def top_terms(
    object_id: str, title: str, field: str, size: int, metric: dict[str, Any] = COUNT
) -> dict[str, Any]:
    bucket = {
        "label": title.split(": ", 1)[-1],
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": "count"},
            "orderDirection": "desc",
            "otherBucket": False,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }
    return lens(object_id, title, bucket, "bar_horizontal", metric)


LENSES = [
    over_time(),
    top_terms("dateline-lens-by-language", "Dateline: by language", "language", 15),
    top_terms("dateline-lens-by-source", "Dateline: by source", "source", 15),
    top_terms("dateline-lens-top-people", "Dateline: top people", "entities.person", 20),
    top_terms("dateline-lens-top-organizations", "Dateline: top organisations", "entities.organization", 20),
    top_terms("dateline-lens-top-places", "Dateline: top places", "entities.location", 20),
    # Stories (issue 17): a story is every version of one article (story_id); one wire story
    # carried by ten outlets is one story with ten sources, not ten articles.
    over_time("dateline-lens-stories-over-time", "Dateline: distinct stories per day", "1d",
              unique_count("Stories", "story_id")),
    top_terms("dateline-lens-sources-per-story", "Dateline: sources per story (most carried)", "story_id", 20,
              unique_count("Sources", "source")),
    top_terms("dateline-lens-carried-from", "Dateline: carried from (wire attribution)", "carried_from", 15),
]
ARTICLES_SEARCH = saved_search(
    "dateline-search-articles",
    "Dateline: articles",
    ["title", "source", "language", "entities.person", "entities.organization", "entities.location"],
    "",
)
FAILURES_SEARCH = saved_search(
    "dateline-search-failures",
    "Dateline: enrichment failures",
    [
        "title", "source_path",
        "provenance.language.status", "provenance.entities.status", "provenance.summary.status",
        "provenance.entities.error", "provenance.summary.error",
    ],
    FAILED_QUERY,
)


# Every alert with its deliveries: which watch, which article, and whether its webhook and
# email got through (the target's last answer when not).
ALERTS_SEARCH = saved_search(
    "dateline-search-alerts",
    "Dateline alerts",
    ["watch_name", "article.title", "article.source", "webhook.state", "email.state", "webhook.last_error"],
    "",
    view=ALERTS_VIEW_ID,
    sort="matched_at",
)


def dashboard() -> dict[str, Any]:
    # (object, width, height) laid out left to right on Kibana's 48-column grid.
    layout = [
        (LENSES[0], 48, 12),
        (LENSES[1], 16, 14), (LENSES[2], 16, 14), (LENSES[3], 16, 14),
        (LENSES[4], 24, 14), (LENSES[5], 24, 14),
        (LENSES[6], 48, 12), (LENSES[7], 24, 14), (LENSES[8], 24, 14),
        (ARTICLES_SEARCH, 48, 16),
        (FAILURES_SEARCH, 48, 12),
    ]
    panels, references = [], []
    x = y = row_height = 0
    for number, (obj, width, height) in enumerate(layout, start=1):
        if x + width > 48:
            x, y, row_height = 0, y + row_height, 0
        key = f"p{number}"
        panels.append({
            "version": "8.19.0",
            "type": obj["type"],
            "gridData": {"x": x, "y": y, "w": width, "h": height, "i": key},
            "panelIndex": key,
            "embeddableConfig": {"enhancements": {}},
            "panelRefName": f"panel_{key}",
        })
        references.append({"name": f"{key}:panel_{key}", "type": obj["type"], "id": obj["id"]})
        x, row_height = x + width, max(row_height, height)
    source = {"query": {"query": "", "language": "kuery"}, "filter": []}
    return saved(
        "dashboard",
        "dateline-overview",
        {
            "title": "Dateline overview",
            "description": "Articles over time, by language and source, top entities, stories, and enrichment failures.",
            "panelsJSON": json.dumps(panels),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "syncCursor": True,
                                       "syncTooltips": False, "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-1y",
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 0},
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
            "version": 1,
        },
        references,
    )


def objects() -> list[dict[str, Any]]:
    # Referenced objects first, so a reader of the file meets them before their users.
    return [data_view(), ARTICLES_SEARCH, FAILURES_SEARCH, *LENSES, dashboard(), alerts_data_view(), ALERTS_SEARCH]


def render() -> str:
    return "".join(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n" for obj in objects())


OUTPUT = Path(__file__).with_name("dateline.ndjson")

if __name__ == "__main__":
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(objects())} objects)")
