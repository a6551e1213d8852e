"""``topology_speedup``, ``pipeline_efficiency``, memory per worker process and the plumbing's
CPU per article (``make bench``, part 3).

Two ways to run the workers on one machine, measured side by side in one run, each a fresh
stack of real processes (supervisord, Celery prefork workers, the indexer) on the
benchmark's Redis and Elasticsearch:

* ``per_stage`` (the default before issue 18): one NER worker process and one
  language+summary process, each with concurrency 1; every article hops from one to the other.
* ``all_stages`` (the default now, ``services/stack/topology.py``): one worker consuming every
  stage's queue, one pool process per core; a task runs language, summary and entities in
  the same process, so an article makes no hop between its stages.

The configurations alternate for ``rounds`` rounds; the clock runs from the first task
queued to the last document searchable. In every round the stages are timed alone right
before the default runs. Both bars pair what was measured in the same minutes and take the
median round: ``topology_speedup`` is each round's default over that round's per-stage run,
``pipeline_efficiency`` each round's default against its own ideal.

The plumbing: the CPU time (user + system, read from ``/proc`` through psutil) that every
process of the pipeline spends between the clock's start and end, minus the CPU the worker
processes spent inside the stages (each pool process counts it with ``time.process_time()``
around ``Stage.run`` and reports it in its heartbeat), per article. What is left is Celery
(parent and pool), Redis round trips and the Redis server, serialization, the indexer and
the submitting side (here the benchmark process, in production ingest). Elasticsearch's
own CPU is reported apart: it is the archive's cost, not the pipeline's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from shared.schemas import ArticleDocument
from tests.support.services import BackingServices

WAIT = 1800.0  # safety net only
MB = 2**20


def cores() -> int:
    """The cores this process may run on (a container's limit, not the host's count)."""
    return len(os.sched_getaffinity(0))


# program name -> arguments after ``dateline serve``
PER_STAGE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("worker-ner", ("worker", "--queues", "entities", "--name", "ner", "--concurrency", "1")),
    ("worker-light", ("worker", "--queues", "language,summary", "--name", "light", "--concurrency", "1")),
)


def pool_size(args: Sequence[str]) -> int:
    """The pool processes ``dateline serve ARGS`` starts on this machine."""
    from shared.settings import Settings

    if "--concurrency" in args:
        return int(args[list(args).index("--concurrency") + 1])
    return Settings(_env_file=None).worker_processes


def all_stages() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The default of ``services/stack/topology.py``: its worker programs, as they start."""
    from services.stack.topology import PROGRAMS

    return tuple((p.name, p.serve_args) for p in PROGRAMS if p.service == "worker")


@dataclass
class Run:
    """One configuration's run: its rate, its processes' memory and the CPU they spent."""

    articles_per_s: float
    pool_processes: int
    rss_mb_per_pool_process: float  # the largest pool process, models loaded, after the run
    rss_mb_parents: float  # Celery's parent processes together (they load no model)
    # Memory only this process holds (psutil's USS: RSS less the library pages that every
    # process maps from the same files); what each more process costs.
    uss_mb_per_pool_process: float = 0.0
    cores_used: float = 0.0  # CPU seconds of every process of the pipeline per second of the run
    load_average: float = 0.0  # the machine's 1-minute load average at the run's end
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per article, by where it went

    @property
    def plumbing_ms(self) -> float:
        return sum(ms for where, ms in self.cpu_ms.items() if where not in {"stages", "elasticsearch"})


def _with_children(pid: int) -> list[int]:
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


def _cpu(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def run_topology(
    services: BackingServices,
    documents: list[ArticleDocument],
    model: Path,
    workers: Sequence[tuple[str, Sequence[str]]],
) -> Run:
    """Articles/s through ``workers`` (program name, serve arguments), the indexer and
    Elasticsearch; the memory and CPU of every process on the way."""
    from shared.celery_app import make_app
    from shared.heartbeat import read_heartbeats
    from shared.pipeline import submit_document
    from shared.settings import Settings
    from tests.bench.stacks import bench_stack, register_files, wait_searchable, warmed_up
    from tests.support.processes import wait_until

    stack = bench_stack(
        services,
        "topology",
        model,
        {"DATELINE_HEARTBEAT_SECONDS": "1", "DATELINE_WORKER_CONCURRENCY": "0"},
    )
    try:
        indexer = stack.start_indexer()
        started_workers = [stack.start(name, *args) for name, args in workers]
        running = [indexer, *started_workers]
        parents = [p.process.pid for p in started_workers]
        expected = sum(pool_size(args) for _, args in workers)
        # Every pool process has loaded its models before the clock starts.
        pool = warmed_up(stack, expected, running)
        app = make_app(Settings(_env_file=None, redis_url=stack.redis_url))
        register_files(stack, documents)
        groups = {
            "celery_parents": parents,
            "worker_pool": pool,
            "indexer": [indexer.process.pid],
            "redis": [services.processes["redis"].process.pid],
            # bin/elasticsearch is a launcher; the server is its child JVM.
            "elasticsearch": _with_children(services.processes["elasticsearch"].process.pid),
        }
        before = {where: _cpu(pids) for where, pids in groups.items()}
        stage_cpu_before = _stage_cpu(stack, pool)
        started = time.perf_counter()
        submit_cpu = time.process_time()
        for doc in documents:
            submit_document(app, doc)
        submit_cpu = time.process_time() - submit_cpu
        wait_searchable(stack, len(documents), running, timeout=WAIT)
        wall = time.perf_counter() - started
        rate = len(documents) / wall
        load = os.getloadavg()[0]
        after = {where: _cpu(pids) for where, pids in groups.items()}
        # The pool processes' heartbeats (every second here) carry their stage CPU; wait for
        # beats written after the last article, then read it.
        finished = time.time()
        wait_until(
            lambda: all(
                b.at.timestamp() > finished + 0.1
                for b in read_heartbeats(stack.redis, "worker")
                if b.pid in pool
            ),
            timeout=30,
            what="fresh worker heartbeats",
        )
        stages = _stage_cpu(stack, pool) - stage_cpu_before
        n = len(documents)
        cpu_ms = {where: (after[where] - before[where]) * 1000 / n for where in groups}
        cpu_ms["worker_pool"] -= stages * 1000 / n
        cpu_ms["stages"] = stages * 1000 / n
        cpu_ms["submit"] = submit_cpu * 1000 / n
        rss = [psutil.Process(pid).memory_info().rss for pid in pool]
        uss = [psutil.Process(pid).memory_full_info().uss for pid in pool]
        cores_used = (sum(after.values()) - sum(before.values()) + submit_cpu) / wall
        return Run(
            articles_per_s=rate,
            pool_processes=len(pool),
            rss_mb_per_pool_process=max(rss) / MB,
            rss_mb_parents=sum(psutil.Process(pid).memory_info().rss for pid in parents) / MB,
            cpu_ms=cpu_ms,
            uss_mb_per_pool_process=max(uss) / MB,
            cores_used=cores_used,
            load_average=load,
        )
    finally:
        stack.stop()


def _stage_cpu(stack: object, pool: Sequence[int]) -> float:
    from shared.heartbeat import read_heartbeats

    return sum(
        b.worker_details.stage_cpu_seconds for b in read_heartbeats(stack.redis, "worker") if b.pid in pool
    )  # type: ignore[attr-defined]


@dataclass
class Round:
    """One round: both configurations, and the stages alone timed just before the default's
    run (the ideal it is held to, measured in the same minutes)."""

    runs: dict[str, Run]
    alone: dict[str, float]  # stage -> seconds per article in one process

    def ideal(self, cores: int) -> float:
        """Articles/s if every core ran the stages and nothing else."""
        return cores / sum(self.alone.values())

    def efficiency(self, name: str, cores: int) -> float:
        return self.runs[name].articles_per_s / self.ideal(cores)

    def speedup(self) -> float:
        """The default's rate over the per-stage topology's, the two run back to back."""
        return self.runs["all_stages"].articles_per_s / self.runs["per_stage"].articles_per_s


def bench_topologies(
    services: BackingServices,
    documents: list[ArticleDocument],
    model: Path,
    time_stages: Callable[[], dict[str, float]],
    rounds: int = 3,
) -> list[Round]:
    """Both configurations, alternating, every round; ``time_stages`` times the stages alone
    between the per-stage run and the default's, so the default is held to an ideal of the
    same minutes (a virtual machine's speed drifts by 5-15 % over a few minutes)."""
    from rich.console import Console

    console = Console()
    done: list[Round] = []
    for round_number in range(1, rounds + 1):
        runs: dict[str, Run] = {}
        alone: dict[str, float] = {}
        for name, workers in (("per_stage", PER_STAGE), ("all_stages", all_stages())):
            if name == "all_stages":
                alone = time_stages()
            run = runs[name] = run_topology(services, documents, model, workers)
            console.print(
                f"[dim]round {round_number}/{rounds}, {name}: {run.articles_per_s:.2f} articles/s, "
                f"CPU per article: stages {run.cpu_ms.get('stages', 0):.0f} ms, Elasticsearch "
                f"{run.cpu_ms.get('elasticsearch', 0):.1f} ms, plumbing {run.plumbing_ms:.1f} ms[/dim]"
            )
        done.append(Round(runs, alone))
        console.print(
            f"[dim]round {round_number}/{rounds}: stages alone {sum(alone.values()) * 1000:.0f} ms per "
            f"article just before, pipeline efficiency {done[-1].efficiency('all_stages', cores()):.3f}[/dim]"
        )
    return done


def best(rounds: Sequence[Round], name: str) -> Run:
    """``name``'s fastest run over the rounds (the one least disturbed by the machine's other work)."""
    return max((r.runs[name] for r in rounds), key=lambda run: run.articles_per_s)
