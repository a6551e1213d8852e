"""NER per article with the production architectures, fp32 against int8, side by side.

Each stand-in (``standins.py``) and its int8 form tag every seed article in turn, fp32 and
int8 alternating article by article over several rounds; an article's time is its median
over the rounds (the machine is shared, so medians of interleaved runs keep the ratio
honest). Token agreement is measured on the same runs' tags.
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

    @property
    def speedup(self) -> float:
        return self.fp32_ms / self.int8_ms


def _time_article(tagger: Any, body: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    tags = token_tags(tagger, [body])
    return time.perf_counter() - started, tags


def compare_forms(make: Callable[[], Any], bodies: list[str], rounds: int) -> FormTimes:
    """Per-article milliseconds of the tagger ``make`` builds, in fp32 and int8, and their
    token agreement (``make`` must build the same weights each time)."""
    fp32 = make()
    int8, form = for_cpu(make(), enabled=True, reload=make)
    for model in (fp32, int8):  # first calls pay one-off costs
        token_tags(model, bodies[:1])
    times: dict[str, list[list[float]]] = {"fp32": [[] for _ in bodies], "int8": [[] for _ in bodies]}
    tags: dict[str, list[str]] = {"fp32": [], "int8": []}
    for round_ in range(rounds):
        for index, body in enumerate(bodies):
            for name, model in (("fp32", fp32), ("int8", int8)):
                seconds, found = _time_article(model, body)
                times[name][index].append(seconds)
                if round_ == 0:
                    tags[name] += found
    per_article = {
        name: 1000 * statistics.mean(statistics.median(article) for article in runs)
        for name, runs in times.items()
    }
    return FormTimes(per_article["fp32"], per_article["int8"], agreement(tags["fp32"], tags["int8"]), str(form))
