"""The Celery configuration that the reliability promises rest on."""

from shared.celery_app import make_app
from shared.keys import STAGE_QUEUES, STAGE_TASKS
from shared.settings import Settings, get_settings


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


# --- the delivery bounds (README: "Delivery guarantees") ----------------------------------------


def test_with_default_settings_a_dead_workers_task_is_back_within_two_minutes():
    from shared.celery_app import RESTORE_SECONDS

    settings = Settings(_env_file=None)
    conf = make_app(settings).conf
    options = conf.broker_transport_options
    # kombu restores a vanished worker's task once it is older than the visibility timeout,
    # looking every unacked_restore_interval x unacked_restore_throttle seconds.
    sweep = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert sweep == RESTORE_SECONDS
    assert options["visibility_timeout"] + sweep <= 120
    # A live worker's task is never delivered twice: it ends (hard limit) before it would be.
    assert conf.task_soft_time_limit < conf.task_time_limit < options["visibility_timeout"]
    # A lost article is found after the reconciler's deadline, longer than any task may run.
    assert settings.reconcile_stuck_seconds > conf.task_time_limit


def test_a_task_stopped_by_its_time_limit_or_its_processs_death_goes_back_on_its_queue():
    conf = make_app(Settings(_env_file=None)).conf
    assert conf.task_acks_on_timeout is False
    assert conf.task_reject_on_worker_lost is True
    # A new pool process may load torch and a NER model (Celery's default allows 4 s).
    assert conf.worker_proc_alive_timeout >= 60
    assert conf.broker_connection_max_retries is None  # a worker outlives any Redis outage


def test_bounds_that_would_deliver_a_running_task_twice_are_refused():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="DATELINE_TASK_VISIBILITY_TIMEOUT .* must be longer"):
        Settings(_env_file=None, task_soft_time_limit=100, task_visibility_timeout=110)
    with pytest.raises(ValidationError, match="DATELINE_RECONCILE_STUCK_SECONDS .* must be longer"):
        Settings(_env_file=None, reconcile_stuck_seconds=60)
    assert (
        Settings(
            _env_file=None, task_soft_time_limit=20, task_visibility_timeout=40, reconcile_stuck_seconds=40
        ).task_time_limit
        == 35
    )
