"""A message kombu keeps otherwise than shared/broker_layout.py was written for is reported as a
changed layout (naming the module and the kombu versions); tolerant readers skip it."""

from __future__ import annotations

import base64
import json

import pytest

from shared.broker_layout import (
    KOMBU_WRITTEN_AGAINST,
    BrokerLayoutChanged,
    read_envelope,
    read_unacked_entry,
    task_of_message,
)
from shared.schemas import ArticleDocument, StageTask, document_id


def _envelope(body: object) -> str:
    return json.dumps({"body": base64.b64encode(json.dumps(body).encode()).decode(), "headers": {}})


TASK = StageTask(
    document=ArticleDocument(
        id=document_id("a.txt"), source_path="a.txt", format="text", title="A", body="B.", content_sha256="0"
    ),
    stages=["language"],
)


def test_the_layout_it_was_written_for_reads_back() -> None:
    raw = _envelope([[TASK.to_wire()], {}, {}])
    assert read_envelope(raw) == TASK
    assert read_unacked_entry(json.dumps([json.loads(raw), "", "dateline.language"])) == TASK


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        json.dumps({"payload": "elsewhere"}),  # the body moved
        json.dumps({"body": "%%% not base64 %%%"}),
        _envelope({"args": [TASK.to_wire()]}),  # a body that is no longer [args, kwargs, embed]
    ],
)
def test_another_layout_says_it_changed_and_what_to_update(raw: str) -> None:
    with pytest.raises(BrokerLayoutChanged, match=f"written against kombu {KOMBU_WRITTEN_AGAINST}") as caught:
        read_envelope(raw)
    assert "shared/broker_layout.py" in str(caught.value) and "pyproject.toml" in str(caught.value)
    assert task_of_message(raw) is None


def test_an_unacked_entry_of_another_shape_says_it_changed() -> None:
    with pytest.raises(BrokerLayoutChanged, match="'unacked' hash"):
        read_unacked_entry(json.dumps({"message": "x"}))
