"""Every way a stage can end without results is recorded with a code for programs next to
the sentence for people (shared/stage.py): status counts read the code only."""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from pydantic import ValidationError

from shared.schemas import ArticleDocument, StageCode, document_id
from shared.settings import Settings
from shared.stage import ModelUnavailable, Stage, StageResult


class Raising(Stage):
    """A stage whose ``process`` raises what it is given: the shared ``run`` is under test."""

    name = "summary"

    def __init__(self, exc: BaseException) -> None:
        super().__init__(Settings())
        self.exc = exc

    def load(self) -> None:
        return None

    def process(self, document: ArticleDocument) -> StageResult:
        raise self.exc

    def describe(self) -> tuple[str | None, str | None]:
        return "m", "1"


def _document() -> ArticleDocument:
    return ArticleDocument(
        id=document_id("u.txt"),
        source_path="u.txt",
        format="text",
        title="T",
        body="Text.",
        content_sha256="0",
    )


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (SoftTimeLimitExceeded(), "time_limit"),
        (ModelUnavailable("the model file is gone"), "model_unavailable"),
        (OSError("disk"), "error"),
    ],
)
def test_a_failing_stage_records_the_code_of_what_stopped_it(exc: BaseException, code: StageCode) -> None:
    record = Raising(exc).run(_document()).provenance.summary
    assert record is not None and record.status == "failed"
    assert record.code == code and record.error


def test_a_skip_without_a_code_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a code"):
        StageResult(status="skipped", reason="why")
