"""int8 NER on CPU: the quantized test tagger says what the fp32 one says, provenance says
which form ran, and a torch without the eager quantization API falls back to fp32."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from services.worker.nlp.quantize import FP32, INT8, for_cpu, quantizable_layers
from services.worker.stages.entities import EntityStage
from shared.settings import get_settings
from tests.support.tagging import agreement, token_tags

pytestmark = pytest.mark.unit


def _loader(path: Path):
    from flair.models import SequenceTagger

    return lambda: SequenceTagger.load(str(path))


def test_int8_and_fp32_tags_agree_on_at_least_99_percent_of_tokens(ner_model_path: Path, seed) -> None:
    import torch

    load = _loader(ner_model_path)
    fp32 = load()
    int8, form = for_cpu(load(), enabled=True, reload=load)
    assert form.name == INT8, form
    # The recurrent layers and the transformer's Linear layers are int8; the tagger's own
    # output Linear stays fp32 (flair's predict reads its weight's dtype).
    assert not any(isinstance(m, torch.nn.LSTM) and type(m) is torch.nn.LSTM for m in int8.modules())
    assert type(int8.linear) is torch.nn.Linear
    assert any(name.endswith("linear") is False for name in quantizable_layers(fp32))
    bodies = [seed(prefix) for prefix in ("000", "001", "002", "003", "004")]
    fp32_tags, int8_tags = token_tags(fp32, bodies), token_tags(int8, bodies)
    assert len(fp32_tags) > 2000
    assert agreement(fp32_tags, int8_tags) >= 0.99


def test_provenance_records_which_form_ran(
    ner_model_path: Path, settings_env: pytest.MonkeyPatch, document
) -> None:
    settings_env.setenv("DATELINE_NER_MODEL", str(ner_model_path))
    get_settings.cache_clear()
    doc = EntityStage().run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert doc.provenance.entities is not None and "int8 (dynamic" in (doc.provenance.entities.version or "")

    settings_env.setenv("DATELINE_NER_QUANTIZE", "false")
    get_settings.cache_clear()
    stage = EntityStage()
    doc = stage.run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert "fp32 (DATELINE_NER_QUANTIZE is off)" in (doc.provenance.entities.version or "")  # type: ignore[union-attr]
    assert (stage.status().form or "").startswith(FP32)


def test_torch_without_eager_quantization_falls_back_to_fp32_and_says_why(
    ner_model_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch.ao.quantization

    # As in a torch release that has removed the deprecated eager API.
    monkeypatch.delattr(torch.ao.quantization, "quantize_dynamic")
    load = _loader(ner_model_path)
    with caplog.at_level(logging.WARNING):
        tagger, form = for_cpu(load(), enabled=True, reload=load)
    assert form.name == FP32 and "no dynamic quantization" in form.detail
    assert "NER runs in fp32" in caplog.text
    assert token_tags(tagger, ["Zalmay Khalilzad arrived in Kabul."])  # the fp32 model still tags
