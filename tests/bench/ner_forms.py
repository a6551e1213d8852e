"""NER per article with the production architectures, fp32 against int8, side by side.

Each stand-in (``standins.py``) and its int8 form tag every seed article in turn, fp32 and
int8 alternating article by article over several rounds; an article's time is the fastest
of its rounds. The machine is shared: other work slows runs at random, never speeds them
up, so the fastest run is the least disturbed one, and alternating gives both forms the
same chances. Token agreement is measured on the same runs' tags. Other work to compare with
(the light stages) runs in the same loop, on the same article, right after.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.worker.nlp.quantize import for_cpu
from tests.support.tagging import agreement, token_tags


@dataclass
class FormTimes:
    fp32_ms: float
    int8_ms: float
    agreement: float
    form: str
    others_ms: dict[str, float]

    @property
    def speedup(self) -> float:
        return self.fp32_ms / self.int8_ms


def _time_article(tagger: Any, body: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    tags = token_tags(tagger, [body])
    return time.perf_counter() - started, tags


def compare_forms(
    make: Callable[[], Any],
    bodies: list[str],
    rounds: int,
    others: dict[str, Callable[[int], object]] | None = None,
) -> FormTimes:
    """Per-article milliseconds of the tagger ``make`` builds, in fp32 and int8, and their
    token agreement (``make`` must build the same weights each time). ``others``: name ->
    work on article ``i``, timed per article in the same loop."""
    fp32 = make()
    int8, form = for_cpu(make(), enabled=True, reload=make)
    work: dict[str, Callable[[int], object]] = {
        "fp32": lambda i: token_tags(fp32, [bodies[i]]),
        "int8": lambda i: token_tags(int8, [bodies[i]]),
        **(others or {}),
    }
    for run in work.values():  # first calls pay one-off costs
        run(0)
    times: dict[str, list[list[float]]] = {name: [[] for _ in bodies] for name in work}
    tags: dict[str, list[str]] = {"fp32": [], "int8": []}
    for round_ in range(rounds):
        for index in range(len(bodies)):
            for name, run in work.items():
                started = time.perf_counter()
                result = run(index)
                times[name][index].append(time.perf_counter() - started)
                if round_ == 0 and name in tags:
                    tags[name] += result  # type: ignore[arg-type]
    per_article = {
        name: 1000 * statistics.mean(min(article) for article in runs) for name, runs in times.items()
    }
    return FormTimes(
        per_article.pop("fp32"),
        per_article.pop("int8"),
        agreement(tags["fp32"], tags["int8"]),
        str(form),
        per_article,
    )
