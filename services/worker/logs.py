"""A worker's log says what happened once, in our format: one line when Redis goes away and
one when it is back, no traceback per task, no library notices at every start.

Installed in the parent before the pool forks, so every pool process inherits it: when the
worker's Celery app is imported (``app.py``) and once Celery has set up its logging
(``signals.py``); flair's logger is rerouted in the pool process that loads flair.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings

from celery.exceptions import CPendingDeprecationWarning, Reject, SecurityWarning


class _RejectWithoutTraceback(logging.Filter):
    """Celery logs a rejected task with the traceback of ``Reject``; ours say why in words
    (out of time while Redis was unreachable), which is all there is to know."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], Reject):
            record.exc_info, record.exc_text = None, None
        return True


class _OneRetryLinePerOutage(logging.Filter):
    """Celery's consumer logs every attempt to reconnect to the broker ("Cannot connect to
    ... Trying again in 8.00 seconds"); keep the first of an outage, until it connects."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._retrying = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        with self._lock:
            if message.startswith("Connected to"):
                self._retrying = False
                return True
            if "Cannot connect to" in message or "Cannot connect to" in record.getMessage():
                first = not self._retrying
                self._retrying = True
                return first
        return True


class _TagListAtDebug(logging.Filter):
    """flair logs a model's whole tag dictionary at INFO each time it loads one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.getMessage().startswith("SequenceTagger predicts:"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def quiet_worker_logs() -> None:
    """Before Celery starts: our filters on its loggers, and no superuser warning.

    Celery warns when a worker runs as root and asks for ``--uid``. The local stack runs its
    programs as the user who started it, and the interpreter may not even be readable by
    another user (a pyenv Python under /root), so dropping privileges is not an option
    there; the Docker image runs its workers as the unprivileged user ``dateline``."""
    logging.getLogger("celery.app.trace").addFilter(_RejectWithoutTraceback())
    retries = _OneRetryLinePerOutage()
    for name in ("celery.worker.consumer.consumer", "celery.worker.consumer.connection"):
        logging.getLogger(name).addFilter(retries)
    if os.geteuid() == 0:
        warnings.filterwarnings(
            "ignore", category=SecurityWarning, message="You're running the worker with superuser"
        )


def quiet_celery_notices() -> None:
    """After Celery set up its logging (which turns its own deprecation notices on)."""
    # At every connection loss Celery announces that 6.0 will cancel running tasks. Ours
    # keep running on purpose: a task waits for Redis itself and hands on when it is back.
    warnings.filterwarnings(
        "ignore",
        category=CPendingDeprecationWarning,
        message=r"\s*In Celery 5.1 we introduced an optional breaking change",
    )


def route_flair_logging() -> None:
    """flair prints through a handler of its own to stdout, which Celery turns into
    WARNING lines: send its records to our log format instead, the tag list at DEBUG."""
    import flair  # noqa: F401 - importing flair installs its handler, which we replace

    flair_log = logging.getLogger("flair")
    flair_log.handlers.clear()
    flair_log.propagate = True
    if not any(isinstance(f, _TagListAtDebug) for f in flair_log.filters):
        flair_log.addFilter(_TagListAtDebug())
