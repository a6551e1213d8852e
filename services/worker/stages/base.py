"""The base of every enrichment stage.

A stage is a plain class: ``warm_up()`` loads its model once per worker process and
``run(document)`` fills in its part of the document. ``run`` never raises for a problem
with the article or the model: it records the failure in the document's provenance, so
one bad stage never loses the article (the document is indexed with what the other
stages found).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import Any

from shared.schemas import ArticleDocument, StageName, StageRecord

log = logging.getLogger(__name__)


class StageSkipped(Exception):
    """Raised by ``process`` when the stage does not apply (e.g. no model for a language)."""


class Stage(ABC):
    name: StageName

    def __init__(self) -> None:
        self.load_error: str | None = None
        self._warm = False

    # --- what subclasses provide --------------------------------------------------------
    @abstractmethod
    def _load(self) -> None:
        """Load models; raise with a message that tells the user what to do."""

    @abstractmethod
    def process(self, document: ArticleDocument) -> None:
        """Fill in this stage's fields of ``document`` (raise StageSkipped to skip)."""

    @abstractmethod
    def model_info(self, document: ArticleDocument | None = None) -> tuple[str | None, str | None]:
        """(model name, model version) used for ``document`` (or by default)."""

    # --- shared behaviour ---------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model once; on failure keep running and remember why."""
        if self._warm:
            return
        self._warm = True
        try:
            self._load()
            self.load_error = None
        except Exception as exc:  # noqa: BLE001 - any load failure is reported, never fatal
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("stage %s: model could not be loaded: %s", self.name, self.load_error)

    def run(self, document: ArticleDocument) -> ArticleDocument:
        self.warm_up()
        started = time.perf_counter()
        model, version = self.model_info(document)
        try:
            self.process(document)
            status, error = "ok", None
        except StageSkipped as skip:
            status, error = "skipped", str(skip)
        except Exception as exc:  # noqa: BLE001 - recorded in provenance, article kept
            log.exception("stage %s failed on %s", self.name, document.source_path)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        model, version = self.model_info(document) if status == "ok" else (model, version)
        record = StageRecord(
            model=model,
            version=version,
            status=status,
            seconds=round(time.perf_counter() - started, 4),
            error=error,
        )
        setattr(document.provenance, self.name, record)
        return document

    def status(self) -> dict[str, Any]:
        model, version = self.model_info()
        return {
            "model": model,
            "version": version,
            "loaded": self._warm and self.load_error is None,
            "error": self.load_error,
        }
