"""The Celery configuration that the reliability promises rest on."""

from shared.celery_app import make_app
from shared.queues import STAGE_QUEUES, STAGE_TASKS
from shared.settings import get_settings


def test_tasks_are_acknowledged_only_when_done(monkeypatch):
    monkeypatch.setenv("DATELINE_TASK_VISIBILITY_TIMEOUT", "120")
    get_settings.cache_clear()
    try:
        conf = make_app().conf
    finally:
        get_settings.cache_clear()
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True  # nothing ever waits on a result
    assert conf.broker_transport_options["visibility_timeout"] == 120


def test_each_stage_has_its_own_queue():
    conf = make_app().conf
    assert {q.name for q in conf.task_queues} == set(STAGE_QUEUES.values())
    for stage, task in STAGE_TASKS.items():
        assert conf.task_routes[task] == {"queue": STAGE_QUEUES[stage]}
    assert len(set(STAGE_QUEUES.values())) == 3
