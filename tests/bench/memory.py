"""A worker's memory over many articles: does it grow?

A fresh process (as a Celery pool process is) loads the three stages, runs a warm-up of
``WARM_ARTICLES`` articles so that caches and the allocator reach their working size, then
``count`` more articles. Growth is (RSS after - RSS after warm-up) / RSS after warm-up.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

WARM_ARTICLES = 20


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _run(model: str, count: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.environ["DATELINE_NER_MODEL"] = model
    os.environ["DATELINE_MODEL_DIR"] = os.path.dirname(model)  # models load only from there
    from services.worker.stages.entities import EntityStage
    from services.worker.stages.language import LanguageStage
    from services.worker.stages.summary import SummaryStage
    from shared.settings import get_settings
    from tests.support.documents import seed_documents

    get_settings.cache_clear()
    stages = [LanguageStage(), SummaryStage(), EntityStage()]
    for stage in stages:
        stage.warm_up()
    documents = seed_documents(WARM_ARTICLES + count, prefix="memory")
    for index, document in enumerate(documents):
        if index == WARM_ARTICLES:
            baseline = _rss_bytes()
        for stage in stages:
            stage.run(document)
        documents[index] = None  # type: ignore[call-overload]  # as a worker drops what it indexed
    results.put((baseline, _rss_bytes()))


def rss_growth(model: Path, count: int) -> tuple[float, int, int]:
    """(growth as a fraction, RSS after warm-up, RSS at the end) over ``count`` articles."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    process = context.Process(target=_run, args=(str(model), count, results))
    process.start()
    baseline, end = results.get()
    process.join()
    return (end - baseline) / baseline, baseline, end
