"""The contract of an enrichment stage (language, summary, entities).

A stage is a plain class: ``warm_up()`` loads its model once per process and
``process(document)`` fills in its fields and returns a :class:`StageResult` saying what
it used. ``run(document)`` wraps ``process``: it times it, and turns the result - or any
exception - into the document's provenance record. ``run`` never raises for a problem with
the article or the model, so one bad stage never loses the article: the document is
indexed with what the other stages found, and provenance says why this one did not run.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import ClassVar, Literal

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel, model_validator

from shared.heartbeat import StageState
from shared.schemas import ArticleDocument, StageCode, StageName, StageRecord
from shared.settings import TASK_HAND_ON_SECONDS, Settings, get_settings

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """The stage's model cannot be used; the message says what to do. Recorded with the
    code ``model_unavailable`` (any other exception is ``error``)."""


class StageResult(BaseModel):
    """What ``process`` did: which model (and version) it used, or why it skipped: ``code``
    for programs, ``reason`` for people."""

    model: str | None = None
    version: str | None = None
    status: Literal["ok", "skipped"] = "ok"
    code: StageCode | None = None
    reason: str | None = None
    covered_chars: int | None = None  # the body's first this many characters only

    @model_validator(mode="after")
    def _skip_has_code(self) -> StageResult:
        if self.status == "skipped" and self.code is None:
            raise ValueError(
                "a skipped StageResult needs a code (shared.schemas.StageCode) as well as a reason"
            )
        return self


class Stage(ABC):
    name: ClassVar[StageName]

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.load_error: str | None = None
        self._warm = False

    # --- what a stage provides ------------------------------------------------------------
    @abstractmethod
    def load(self) -> None:
        """Load models; raise with a message that tells the user what to do."""

    @abstractmethod
    def process(self, document: ArticleDocument) -> StageResult:
        """Fill in this stage's fields of ``document``; return what was used."""

    @abstractmethod
    def describe(self) -> tuple[str | None, str | None]:
        """(model, version) this stage uses by default: for status, and for failures."""

    # --- shared behaviour -----------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model once; on failure keep running and remember why."""
        if self._warm:
            return
        self._warm = True
        try:
            self.load()
            self.load_error = None
        except Exception as exc:  # noqa: BLE001 - any load failure is reported, never fatal
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("stage %s: model could not be loaded: %s", self.name, self.load_error)

    def run(self, document: ArticleDocument) -> ArticleDocument:
        """Process ``document`` and record the outcome in its provenance; returns it."""
        self.warm_up()
        started = time.perf_counter()
        try:
            result = self.process(document)
            record = StageRecord(
                model=result.model,
                version=result.version,
                status=result.status,
                code=result.code,
                error=result.reason,
                covered_chars=result.covered_chars,
            )
        except SoftTimeLimitExceeded:
            # The task's time budget ran out in this stage: the article goes on without it.
            log.error("stage %s stopped by the time limit on %s", self.name, document.source_path)
            model, version = self.describe()
            record = StageRecord(
                model=model,
                version=version,
                status="failed",
                code="time_limit",
                error=self.time_limit_reason(),
            )
        except Exception as exc:  # noqa: BLE001 - recorded in provenance, article kept
            log.exception("stage %s failed on %s", self.name, document.source_path)
            model, version = self.describe()
            code: StageCode = "model_unavailable" if isinstance(exc, ModelUnavailable) else "error"
            record = StageRecord(
                model=model, version=version, status="failed", code=code, error=f"{type(exc).__name__}: {exc}"
            )
        record.seconds = round(time.perf_counter() - started, 4)
        setattr(document.provenance, self.name, record)
        return document

    def time_limit_reason(self) -> str:
        limit = self.settings.task_soft_time_limit
        return (
            f"stopped after the time limit of {limit} s (DATELINE_TASK_SOFT_TIME_LIMIT): the article is "
            f"too long for this model on this machine. Raise the limit (and DATELINE_TASK_VISIBILITY_TIMEOUT "
            f"above it plus {TASK_HAND_ON_SECONDS} s), choose a faster model, or split the article; then "
            f"`dateline reprocess --stage {self.name} --failed-only`."
        )

    def status(self) -> StageState:
        """This stage's model and whether it is usable (shown in heartbeats and status)."""
        model, version = self.describe()
        return StageState(
            model=model, version=version, loaded=self._warm and self.load_error is None, error=self.load_error
        )
