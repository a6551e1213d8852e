"""The worker's Celery app: the shared configuration plus this package's tasks, the signal
handlers that load each pool process's models after the fork, and the prefork pool that
records how its processes die (``pool.py``)."""

from __future__ import annotations

from services.worker.logs import quiet_worker_logs
from shared.celery_app import make_app

quiet_worker_logs()
app = make_app(include=["services.worker.tasks", "services.worker.signals"])
app.conf.worker_pool = "services.worker.pool:RecordingTaskPool"
