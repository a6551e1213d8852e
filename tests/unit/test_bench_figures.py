"""The arithmetic behind `make bench`'s bars (tests/bench): the figures the README and the
issue's bars quote are computed from the runs as documented. The runs themselves need the
whole system and minutes of CPU; here they are given, so each formula can be checked."""

from __future__ import annotations

import json
import math

import pytest

import tests.bench.__main__ as bench
from tests.bench.results import record, start_run
from tests.bench.topology import Round, Run, best


def _run(rate: float, stages_ms: float = 100.0, plumbing: float = 4.0) -> Run:
    return Run(
        articles_per_s=rate,
        pool_processes=2,
        rss_mb_per_pool_process=900.0,
        rss_mb_parents=150.0,
        uss_mb_per_pool_process=600.0,
        cores_used=1.9,
        load_average=2.0,
        cpu_ms={"stages": stages_ms, "elasticsearch": 3.0, "celery": plumbing / 2, "indexer": plumbing / 2},
    )


def test_plumbing_is_what_is_neither_the_stages_nor_elasticsearch():
    assert _run(1.0, plumbing=6.0).plumbing_ms == pytest.approx(6.0)


def test_the_bars_come_from_the_rounds_as_documented(monkeypatch):
    recorded: dict[str, float] = {}
    monkeypatch.setattr(bench, "record", lambda figures: recorded.update(figures) or recorded)
    # Round 1: the machine was slow (stages alone 0.5 s per article) and slowed further before
    # the default ran; round 2 fast (0.4 s); round 3 in between.
    slow = Round({"per_stage": _run(2.0), "all_stages": _run(3.2)}, {"entities": 0.4, "light": 0.1})
    fast = Round({"per_stage": _run(2.4), "all_stages": _run(4.2)}, {"entities": 0.32, "light": 0.08})
    middle = Round({"per_stage": _run(2.2), "all_stages": _run(3.96)}, {"entities": 0.36, "light": 0.09})
    assert slow.ideal(2) == pytest.approx(4.0) and fast.ideal(2) == pytest.approx(5.0)
    assert best([slow, fast, middle], "all_stages").articles_per_s == 4.2
    assert [r.speedup() for r in (slow, fast, middle)] == pytest.approx([1.6, 1.75, 1.8])
    bench.report_topologies([slow, fast, middle], cores=2, ner_fast_ms=80.0, scaling=0.9)

    # Each round's default over the per-stage run just before it; the median round. The
    # fastest run of each, from different rounds, is recorded beside it.
    assert recorded["topology_speedup"] == pytest.approx(1.75)
    assert recorded["topology_speedup_best_round"] == pytest.approx(1.8)
    assert recorded["topology_speedup_worst_round"] == pytest.approx(1.6)
    assert recorded["topology_speedup_best_of_each"] == pytest.approx(4.2 / 2.4)
    # Efficiency pairs each round with its own ideal (3.2/4 = 0.8, 4.2/5 = 0.84,
    # 3.96/4.444 = 0.891) and takes the median; the across-rounds figure holds the fastest
    # run to the fastest ideal.
    assert recorded["pipeline_efficiency"] == pytest.approx(0.84)
    assert recorded["pipeline_efficiency_best_round"] == pytest.approx(3.96 / (2 / 0.45))
    assert recorded["pipeline_efficiency_worst_round"] == pytest.approx(0.8)
    assert recorded["pipeline_efficiency_across_rounds"] == pytest.approx(4.2 / 5.0)
    assert recorded["pipeline_efficiency_vs_every_core_pass"] == pytest.approx(0.84 / 0.9)
    assert recorded["per_stage_pipeline_efficiency"] == pytest.approx(2.2 / (2 / 0.45))
    assert recorded["ner_alone_articles_per_s"] == pytest.approx(1 / 0.32)
    assert recorded["stages_alone_ms_per_article"] == pytest.approx(400.0)
    assert recorded["plumbing_share_of_ner"] == pytest.approx(4.0 / 80.0)
    assert recorded["worker_memory_mb_total"] == pytest.approx(600.0 * 2 + 150.0)
    assert all(math.isfinite(v) for v in recorded.values())


def test_results_merge_refuse_what_is_not_a_number_and_start_empty(tmp_path):
    path = tmp_path / "results.json"
    record({"a": 1.234567}, path)
    assert record({"b": 2}, path) == {"a": 1.2346, "b": 2.0}
    assert json.loads(path.read_text()) == {"a": 1.2346, "b": 2.0}
    for bad in (math.nan, math.inf, True, "1.0", None):
        with pytest.raises(ValueError, match="finite number"):
            record({"c": bad}, path)  # type: ignore[dict-item]
    start_run(path)
    assert not path.exists()


def test_the_scale_table_gives_the_growth_per_tenfold():
    from tests.bench.scale import FIGURES, growth_table

    results = {
        "10000": dict.fromkeys(FIGURES, 1.0),
        "100000": dict.fromkeys(FIGURES, 2.0),
        "1000000": {**dict.fromkeys(FIGURES, 3.0), "status_ms": 8.0},
    }
    table = growth_table(results)
    headers = [column.header for column in table.columns]
    assert headers == ["measure", "10,000", "100,000", "1,000,000", "x 10", "x 10"]
    status = [list(column.cells)[FIGURES.index("status_ms")] for column in table.columns]
    assert status == ["status_ms", "1", "2", "8", "2.00", "4.00"]
