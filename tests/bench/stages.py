"""The enrichment stages alone, with no pipeline around them (``make bench`` parts 1 and 3):
in one process, and in one process per core at once.

One process gives the ideal ``pipeline_efficiency`` is defined against: the cores over the
stages' summed time per article, as if every core ran them as fast as one core does alone.
A virtual machine's cores need not scale so: two vCPUs may be one physical core's two
hyper-threads on the host, and share its caches and memory bandwidth. The pass on every core
at once measures what the machine gives the stages when all its cores run them and nothing
else (``stage_core_scaling``: that rate over the cores times one process's rate), which
tells the pipeline's own losses apart from the hardware's.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from multiprocessing.synchronize import Barrier

from shared.schemas import ArticleDocument


class StageTimer:
    """The three enrichment stages, loaded and warm in this process, timed one pass at a time
    (the worker's setting: one torch thread)."""

    def __init__(self) -> None:
        from services.worker.stages.entities import EntityStage
        from services.worker.stages.language import LanguageStage
        from services.worker.stages.summary import SummaryStage

        self.stages = {"language": LanguageStage(), "summary": SummaryStage(), "entities": EntityStage()}
        for stage in self.stages.values():
            stage.warm_up()
            if stage.load_error:
                raise SystemExit(f"{stage.name} model failed to load: {stage.load_error}")

    def measure(self, documents: list[ArticleDocument]) -> tuple[dict[str, float], list[ArticleDocument]]:
        """Seconds per article for each stage over ``documents``; and the documents as the
        stages left them (enriched, as the indexer writes them)."""
        work = [d.model_copy(deep=True) for d in documents]
        per_article: dict[str, float] = {}
        for name, stage in self.stages.items():
            stage.run(work[0].model_copy(deep=True))  # first call pays one-off costs
            started = time.perf_counter()
            for doc in work:
                stage.run(doc)
            per_article[name] = (time.perf_counter() - started) / len(work)
        return per_article, work


def _pass_in_child(documents: list[ArticleDocument], start: Barrier, results: multiprocessing.Queue) -> None:
    import torch

    torch.set_num_threads(1)  # as a worker pool process runs (DATELINE_TORCH_THREADS=1)
    timer = StageTimer()
    start.wait()  # every process loaded: the passes run side by side, not one after another
    per_article, _ = timer.measure(documents)
    results.put(sum(per_article.values()))


def every_core_pass(documents: list[ArticleDocument], cores: int) -> list[float]:
    """Each of ``cores`` fresh processes (spawned: the models' threads do not survive a
    fork) times the stages over ``documents`` at the same time; their seconds per article.
    The model settings reach them through the environment, as they reach a worker."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(cores)
    results: multiprocessing.Queue = context.Queue()
    children = [
        context.Process(target=_pass_in_child, args=(documents, start, results)) for _ in range(cores)
    ]
    for child in children:
        child.start()
    seconds: list[float] = []
    deadline = time.monotonic() + 3600
    try:
        while len(seconds) < len(children):
            try:
                seconds.append(results.get(timeout=5))
            except queue.Empty:
                # A process that failed (a model that would not load) never reports, and holds
                # its siblings at the barrier: stop at once rather than wait out the hour.
                failed = [child.exitcode for child in children if child.exitcode not in (None, 0)]
                if failed:
                    raise SystemExit(
                        f"a stage-timing process failed (exit codes {failed}); its error is above"
                    ) from None
                if time.monotonic() > deadline:
                    raise SystemExit("the stages on every core took over an hour") from None
    finally:
        for child in children:
            child.join(timeout=60 if len(seconds) == len(children) else 0)
            if child.is_alive():  # held at the barrier by a sibling that failed
                child.terminate()
                child.join()
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if failed:
        raise SystemExit(f"a stage-timing process failed (exit codes {failed})")
    return seconds
