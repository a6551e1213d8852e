"""What the search page's extras cost, measured side by side on one index of one run:

1. Facets that count identical articles once (a ``cardinality`` of ``content_sha256`` under
   every facet bucket) against plain document counts, for the same collapsed search.
2. The follow-up request (date histogram and each hit's copies) against the search alone.
3. The search page rendered by the API against the JSON of ``/search`` for the same query.

Usage: python -m tests.bench.search [--docs N] [--repeat N]   (part of `make bench`)
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch
from rich.console import Console
from rich.table import Table

from tests.bench.results import record

PEOPLE = [f"Person {i}" for i in range(400)]
PLACES = [f"Place {i}" for i in range(120)]
ORGS = [f"Organisation {i}" for i in range(200)]
SOURCES = ["The Nation", "Dawn", "APP", "Reuters", "AFP", "Wire"]
LANGUAGES = ["en", "en", "en", "ur", "de"]
DUPLICATE_SHARE = 0.3  # news archives hold many copies: agency stories run by several papers


def build_archive(es: Elasticsearch, count: int) -> str:
    """An alias with ``count`` seed-based documents with facets to count, a share of them copies."""
    from shared.schemas import Entities, text_story_id
    from shared.search.index import ensure_index
    from shared.settings import get_settings
    from tests.support.documents import seed_documents

    alias = f"bench-search-{uuid.uuid4().hex[:8]}"
    ensure_index(es, alias, get_settings())
    start = datetime(2022, 1, 1, tzinfo=timezone.utc)
    originals = max(1, int(count * (1 - DUPLICATE_SHARE)))
    operations: list[dict[str, Any]] = []
    for i, doc in enumerate(seed_documents(count, prefix="bench-search")):
        original = i % originals  # documents past ``originals`` repeat an earlier text
        sha256 = hashlib.sha256(f"text-{original}".encode()).hexdigest()
        enriched = doc.model_copy(
            update={
                "content_sha256": sha256,
                # model_copy runs no validators: the story follows the text by hand, or every
                # document would keep its seed's story (five stories in the whole archive).
                "story_id": text_story_id(sha256),
                "language": LANGUAGES[original % len(LANGUAGES)],
                "source": SOURCES[i % len(SOURCES)],
                "dateline": PLACES[original % 30].upper(),
                "published_at": start + timedelta(days=original % 700),
                "entities": Entities(
                    person=[PEOPLE[(original * 7 + k) % len(PEOPLE)] for k in range(3)],
                    organization=[ORGS[(original * 3) % len(ORGS)]],
                    location=[PLACES[(original * 5 + k) % len(PLACES)] for k in range(2)],
                ),
            }
        )
        operations += [{"index": {"_index": alias, "_id": enriched.id}}, enriched.model_dump(mode="json")]
        if len(operations) >= 1000:
            es.bulk(operations=operations)
            operations = []
    if operations:
        es.bulk(operations=operations)
    es.indices.refresh(index=alias)
    return alias


def _plain_facets(body: dict[str, Any]) -> dict[str, Any]:
    """The same request with facets counting documents (no per-bucket cardinality)."""
    plain = copy.deepcopy(body)
    for agg in plain["aggs"].values():
        agg.pop("aggs", None)
    return plain


def _paired_ms(first: Callable[[], object], second: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median milliseconds of each, run in alternation so that a busy machine (other tests,
    other engineers) slows both sides alike."""
    first(), second()  # warm caches once, for both sides alike
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for run, into in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            run()
            into.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def bench_search(
    es: Elasticsearch, es_url: str, docs: int, repeat: int, console: Console
) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from services.api.app import create_app
    from shared.search.models import SearchParams
    from shared.search.query import build_search, details_request, search, text_subfields, to_result
    from shared.settings import Settings
    from tests.support.indices import drop_dateline_index

    alias = build_archive(es, docs)
    try:
        figures: dict[str, float] = {}
        table = Table(
            "measure",
            "median ms",
            title=f"4. Search page extras ({docs} documents, "
            f"{DUPLICATE_SHARE:.0%} copies, median of {repeat}, alternating)",
        )
        for label, query in (("all documents", "*"), ("a query", "Taliban OR Pakistan")):
            params = SearchParams(query=query, facet_size=10)
            body = build_search(params, text_subfields(es, alias))
            plain_body = _plain_facets(body)
            plain, aware = _paired_ms(
                lambda b=plain_body: es.search(index=alias, **b),
                lambda b=body: es.search(index=alias, **b),
                repeat,
            )
            key = "all" if query == "*" else "query"
            figures |= {
                f"search_{key}_facets_plain_ms": plain,
                f"search_{key}_facets_distinct_ms": aware,
                f"search_{key}_facets_distinct_ratio": aware / plain,
            }
            table.add_row(f"{label}: facets counting documents", f"{plain:.1f}")
            table.add_row(f"{label}: facets counting distinct texts", f"{aware:.1f}")
            table.add_row(
                f"[bold]{label}: ratio distinct / documents[/bold]", f"[bold]{aware / plain:.2f}[/bold]"
            )

        params = SearchParams(query="Taliban OR Pakistan")
        body = build_search(params, text_subfields(es, alias))
        first = es.search(index=alias, **body)
        details = details_request(params, body, first, to_result(first, params).hits)
        assert details is not None
        alone, whole = _paired_ms(
            lambda: es.search(index=alias, **body), lambda: search(es, alias, params), repeat
        )
        figures |= {
            "search_alone_ms": alone,
            "search_with_histogram_and_copies_ms": whole,
            "search_with_histogram_and_copies_ratio": whole / alone,
        }
        table.add_row("search request alone", f"{alone:.1f}")
        table.add_row("search + histogram and copies (what the page asks)", f"{whole:.1f}")
        table.add_row("[bold]ratio[/bold]", f"[bold]{whole / alone:.2f}[/bold]")

        client = TestClient(
            create_app(Settings(elasticsearch_url=es_url, index=alias)), base_url="http://127.0.0.1"
        )
        query = {"q": "Taliban OR Pakistan"}
        json_ms, page_ms = _paired_ms(
            lambda: client.get("/search", params=query).raise_for_status(),
            lambda: client.get("/", params=query).raise_for_status(),
            repeat,
        )
        figures |= {
            "api_search_json_ms": json_ms,
            "search_page_ms": page_ms,
            "search_page_json_ratio": page_ms / json_ms,
        }
        table.add_row("GET /search (JSON)", f"{json_ms:.1f}")
        table.add_row("GET / (the search page, HTML)", f"{page_ms:.1f}")
        table.add_row("[bold]ratio page / JSON[/bold]", f"[bold]{page_ms / json_ms:.2f}[/bold]")
        console.print(table)
        record(figures)
        return figures
    finally:
        drop_dateline_index(es, alias)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    from tests.bench.__main__ import BENCH_DATA
    from tests.support.services import BackingServices, free_port

    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start("elasticsearch")
    try:
        bench_search(Elasticsearch(services.es_url), services.es_url, args.docs, args.repeat, Console())
    finally:
        services.stop()


if __name__ == "__main__":
    main()
