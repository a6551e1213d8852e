"""What an export costs, and that its memory does not grow with its size.

On one archive of ``--docs`` documents (20,000 by default; the search bench's synthetic
archive, seed texts with facets and copies) and one of a tenth of that:

1. ``dateline export -o FILE`` in a process of its own (the CLI's real path: point in time,
   search_after pages, CSV written as read), for both archives: rows/s and the process's
   peak RSS; the peaks side by side show the memory is flat (the large export holds no more
   than the small one: one page of ``export_page_size`` documents).
2. ``GET /export`` streamed through the API in this process: rows/s.
3. Side by side with both: the same documents read by ``elasticsearch.helpers.scan`` alone
   (scroll, the same fields, the same page size), what reading costs without the export.

Usage: python -m tests.bench.export [--docs N]   (part of `make bench`; `make bench-export` alone)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elasticsearch import Elasticsearch, helpers
from rich.console import Console
from rich.table import Table

from tests.bench.results import record
from tests.support.paths import REPO_DIR


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), MB: ``VmRSS`` now,
    ``VmHWM`` its peak. Not ``getrusage``'s ``ru_maxrss``: Linux carries that across exec, so
    a process started by a large parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(output: Path, report: Path) -> None:
    """Run ``dateline export -o output`` in this process and write what it cost to ``report``."""
    from services.cli.main import app

    before = _status_mb("VmRSS")  # the command line loaded, nothing exported yet
    started = time.perf_counter()
    app(["export", "-o", str(output)], standalone_mode=False)
    seconds = time.perf_counter() - started
    peak = _status_mb("VmHWM")
    with output.open(encoding="utf-8", newline="") as handle:
        rows = sum(1 for _ in csv.reader(handle)) - 1
    report.write_text(
        json.dumps({"rows": rows, "seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak})
    )


def _export_in_a_process(es_url: str, alias: str, workdir: Path) -> dict[str, float]:
    output, report = workdir / f"{alias}.csv", workdir / f"{alias}.json"
    env = {**os.environ, "DATELINE_ELASTICSEARCH_URL": es_url, "DATELINE_INDEX": alias}
    subprocess.run(
        [sys.executable, "-m", "tests.bench.export", "--child", str(output), str(report)],
        cwd=REPO_DIR,
        env=env,
        check=True,
        stderr=subprocess.DEVNULL,  # the progress bar
    )
    figures: dict[str, float] = json.loads(report.read_text())
    return figures


def _api_rows_per_s(es_url: str, alias: str) -> tuple[int, float]:
    from fastapi.testclient import TestClient

    from services.api.app import create_app
    from shared.settings import Settings

    client = TestClient(
        create_app(Settings(elasticsearch_url=es_url, index=alias)), base_url="http://127.0.0.1"
    )
    started = time.perf_counter()
    rows = 0
    with client.stream("GET", "/export") as response:
        response.raise_for_status()
        for text in response.iter_text():
            rows += text.count("\r\n")
    return rows - 1, (rows - 1) / (time.perf_counter() - started)


def _scan_rows_per_s(es: Elasticsearch, alias: str, page_size: int) -> tuple[int, float]:
    from shared.search.export import SOURCE_FIELDS

    started = time.perf_counter()
    rows = sum(
        1
        for _ in helpers.scan(
            es,
            index=alias,
            query={"query": {"match_all": {}}},
            size=page_size,
            _source_includes=SOURCE_FIELDS,
        )
    )
    return rows, rows / (time.perf_counter() - started)


def bench_export(es: Elasticsearch, es_url: str, docs: int, console: Console) -> dict[str, float]:
    from shared.settings import get_settings
    from tests.bench.search import build_archive
    from tests.support.indices import drop_dateline_index

    small_docs = max(1, docs // 10)
    large, small = build_archive(es, docs), build_archive(es, small_docs)
    try:
        with tempfile.TemporaryDirectory(prefix="dateline-bench-export-") as folder:
            workdir = Path(folder)
            at_small = _export_in_a_process(es_url, small, workdir)
            at_large = _export_in_a_process(es_url, large, workdir)
        if (at_small["rows"], at_large["rows"]) != (small_docs, docs):
            raise SystemExit(
                f"the exports wrote {at_small['rows']} and {at_large['rows']} rows, not {small_docs} and {docs}"
            )
        api_rows, api_rate = _api_rows_per_s(es_url, large)
        scan_rows, scan_rate = _scan_rows_per_s(es, large, get_settings().export_page_size)
        if api_rows != docs or scan_rows != docs:
            raise SystemExit(f"GET /export gave {api_rows} rows and scan {scan_rows}, not {docs}")
    finally:
        drop_dateline_index(es, large)
        drop_dateline_index(es, small)

    cli_rate = at_large["rows"] / at_large["seconds"]
    figures = {
        "export_rows_per_s": cli_rate,
        "export_api_rows_per_s": api_rate,
        "export_scan_rows_per_s": scan_rate,
        "export_vs_scan": cli_rate / scan_rate,
        "export_peak_rss_mb": at_large["peak_rss_mb"],
        f"export_peak_rss_mb_{small_docs}": at_small["peak_rss_mb"],
        f"export_peak_rss_mb_{docs}": at_large["peak_rss_mb"],
        "export_rss_before_mb": at_large["rss_before_mb"],
        "export_peak_rss_ratio_10x_rows": at_large["peak_rss_mb"] / at_small["peak_rss_mb"],
    }
    record(figures)
    table = Table(
        "measure", f"{small_docs:,} rows", f"{docs:,} rows", title="6. Export (CSV, one process each)"
    )
    table.add_row(
        "dateline export -o FILE, rows/s", f"{at_small['rows'] / at_small['seconds']:.0f}", f"{cli_rate:.0f}"
    )
    table.add_row(
        "RSS with the command loaded, MB",
        f"{at_small['rss_before_mb']:.0f}",
        f"{at_large['rss_before_mb']:.0f}",
    )
    table.add_row(
        "[bold]peak RSS of the export process, MB[/bold]",
        f"{at_small['peak_rss_mb']:.0f}",
        f"[bold]{at_large['peak_rss_mb']:.0f}[/bold]",
    )
    table.add_row("GET /export streamed, rows/s", "", f"{api_rate:.0f}")
    table.add_row("helpers.scan alone (reading only), rows/s", "", f"{scan_rate:.0f}")
    table.add_row("[bold]export / scan[/bold]", "", f"[bold]{cli_rate / scan_rate:.2f}[/bold]")
    console.print(table)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--child", nargs=2, type=Path, metavar=("OUTPUT", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from tests.bench.__main__ import BENCH_DATA
    from tests.support.services import BackingServices, free_port

    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start("elasticsearch")
    try:
        bench_export(Elasticsearch(services.es_url), services.es_url, args.docs, Console())
    finally:
        services.stop()


if __name__ == "__main__":
    main()
