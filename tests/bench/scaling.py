"""``scaling_2_vs_1``: articles/s through NER with two worker processes against one, measured
side by side in one run (``make bench``).

Each configuration is a fresh stack of real processes (its own Redis database and alias on
the benchmark's Redis and Elasticsearch): the indexer and one or two NER workers (separate
programs, as `dateline serve worker --queues entities` on a second host runs them). The documents
already carry their language, so only the heavy stage runs in the workers; the clock runs
from the first task queued to the last document searchable. The configurations alternate
for ``rounds`` rounds and each keeps its best round, the one least disturbed by whatever
else the machine runs.

What two processes can show depends on the cores: each NER process keeps one busy (torch
uses one thread per process), and the indexer, Redis, Elasticsearch and the Celery parents
share the same cores. On two cores the ratio is bounded well below 2; with a core per NER
process (or a second host) it approaches 2.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shared.schemas import ArticleDocument
from tests.bench.results import record
from tests.support.services import BackingServices

WAIT = 1800.0  # safety net only


def ner_rate(
    services: BackingServices, documents: list[ArticleDocument], model: Path, processes: int
) -> float:
    """Articles per second through ``processes`` NER workers and the indexer into Elasticsearch."""
    from shared.celery_app import make_app
    from shared.pipeline import submit_document
    from shared.settings import Settings
    from tests.bench.stacks import bench_stack, register_files, wait_searchable, warmed_up

    stack = bench_stack(services, "scaling", model)
    try:
        running = [stack.start_indexer()]
        running += [
            stack.start(f"worker-ner-{i}", "worker", "--queues", "entities", "--name", f"ner{i}")
            for i in range(processes)
        ]
        # Every worker has loaded its model before the clock starts.
        warmed_up(stack, processes, running)
        app = make_app(Settings(_env_file=None, redis_url=stack.redis_url))
        work = [doc.model_copy(update={"language": "en"}) for doc in documents]
        register_files(stack, work)
        started = time.perf_counter()
        for doc in work:
            submit_document(app, doc, stages=["entities"])
        wait_searchable(stack, len(work), running, timeout=WAIT)
        return len(work) / (time.perf_counter() - started)
    finally:
        stack.stop()


def bench_scaling(
    services: BackingServices,
    documents: list[ArticleDocument],
    model: Path,
    console: Console,
    rounds: int = 3,
) -> dict[str, float]:
    """Record and print ``scaling_2_vs_1`` (and the two rates it divides)."""
    best = {1: 0.0, 2: 0.0}
    for _ in range(rounds):
        for processes in (1, 2):
            best[processes] = max(best[processes], ner_rate(services, documents, model, processes))
    figures = {
        "scaling_1_ner_process_articles_per_s": best[1],
        "scaling_2_ner_processes_articles_per_s": best[2],
        "scaling_2_vs_1": best[2] / best[1],
    }
    record(figures)
    cores = os.cpu_count() or 1
    table = Table(
        "NER worker processes",
        "articles/s",
        title=f"Scaling out NER ({len(documents)} articles, "
        f"best of {rounds} alternating rounds, {cores} cores)",
    )
    table.add_row("1", f"{best[1]:.2f}")
    table.add_row("2", f"{best[2]:.2f}")
    table.add_row("[bold]scaling_2_vs_1[/bold]", f"[bold]{figures['scaling_2_vs_1']:.2f}[/bold]")
    console.print(table)
    if cores <= 2:
        console.print(
            f"[dim]{cores} cores: two NER processes share them with the indexer, Redis and Elasticsearch, "
            "so the ratio stays well below 2 here; with a core per process it approaches 2.[/dim]"
        )
    return figures
