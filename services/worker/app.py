"""The worker's Celery app: the shared configuration plus this package's tasks and the
signal handlers that load each pool process's models after the fork."""

from __future__ import annotations

from shared.celery_app import make_app

app = make_app(include=["services.worker.tasks", "services.worker.signals"])
