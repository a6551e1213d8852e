"""int8 inference on CPU: dynamic quantization of a flair tagger's slow layers.

The time of a flair NER model goes into its recurrent layers (the character language
models of FlairEmbeddings, the tagger's BiLSTM) or, for transformer-embedding models, into
the transformer's Linear layers; next comes the tagger's re-projection of the stacked
embeddings (``embedding2nn``, 2048 x 2048 per token for the fast English model). Those are
quantized to int8 with torch's dynamic quantization (weights int8 once, activations per
batch), which needs no calibration data. The tagger's own output Linear stays fp32:
flair's ``predict`` reads its ``linear.weight.dtype``, which a quantized Linear does not have.

torch's eager quantization API (``torch.ao.quantization.quantize_dynamic``) is deprecated:
where it is missing, or quantizing or a test prediction fails, the tagger runs in fp32 and
the log says why. On a GPU the tagger runs as it is.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

INT8 = "int8"
FP32 = "fp32"


@dataclass(frozen=True, slots=True)
class Form:
    """Which form of a model runs, and why (recorded in provenance and status)."""

    name: str  # INT8 or FP32
    detail: str

    def __str__(self) -> str:
        return f"{self.name} ({self.detail})"


def quantizable_layers(tagger: Any) -> dict[str, type]:
    """Submodule name -> layer type to quantize: every LSTM/GRU, the Linear layers inside
    transformer embeddings, and the embeddings' re-projection (never the output ``linear``)."""
    import torch
    from flair.embeddings import TransformerEmbeddings

    found: dict[str, type] = {}
    transformers = [
        name for name, module in tagger.named_modules() if isinstance(module, TransformerEmbeddings)
    ]
    for name, module in tagger.named_modules():
        if isinstance(module, (torch.nn.LSTM, torch.nn.GRU)):
            found[name] = type(module)
        elif isinstance(module, torch.nn.Linear) and (
            name == "embedding2nn" or any(name.startswith(f"{t}.") for t in transformers)
        ):
            found[name] = torch.nn.Linear
    return found


def _smoke_test(tagger: Any) -> None:
    """One prediction, so a quantized model that flair cannot run is caught at load."""
    from flair.data import Sentence

    sentence = Sentence("Dateline checks that Angela Merkel met officials in Berlin .")
    tagger.predict([sentence])
    sentence.clear_embeddings()


def for_cpu(tagger: Any, enabled: bool, reload: Callable[[], Any]) -> tuple[Any, Form]:
    """The tagger to run, quantized where that is possible and asked for.

    Quantization replaces layers in place (a copy would need ``deepcopy``, which flair's
    transformer embeddings do not survive), so when it fails half-way the fp32 model is
    loaded again with ``reload``."""
    import flair
    import torch

    if not enabled:
        return tagger, Form(FP32, "DATELINE_NER_QUANTIZE is off")
    if flair.device.type != "cpu":
        return tagger, Form(FP32, f"running on {flair.device.type}")
    try:
        from torch.ao.quantization import (
            default_dynamic_qconfig,
            per_channel_dynamic_qconfig,
            quantize_dynamic,
        )
    except ImportError as exc:
        log.warning("NER runs in fp32: this torch has no dynamic quantization (%s)", exc)
        return tagger, Form(FP32, f"torch {torch.__version__} has no dynamic quantization")
    layers = quantizable_layers(tagger)
    if not layers:
        return tagger, Form(FP32, "no recurrent or transformer layers to quantize")
    try:
        with warnings.catch_warnings():
            # The eager API's deprecation notice: the fallback below covers its removal.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*deprecated and will be removed.*")
            # Linear weights get one scale per output channel (closer to fp32 for the
            # same speed); recurrent layers take one per tensor, all torch offers them.
            spec = {
                name: per_channel_dynamic_qconfig if kind is torch.nn.Linear else default_dynamic_qconfig
                for name, kind in layers.items()
            }
            quantized = quantize_dynamic(tagger, spec, dtype=torch.qint8, inplace=True)
        quantized.eval()
        _smoke_test(quantized)
    except Exception as exc:  # noqa: BLE001 - any failure: the fp32 model, loaded again
        log.warning("NER runs in fp32: int8 quantization failed (%s: %s)", type(exc).__name__, exc)
        return reload(), Form(FP32, f"int8 quantization failed: {type(exc).__name__}")
    kinds = sorted({kind.__name__ for kind in layers.values()})
    return quantized, Form(INT8, f"dynamic, {len(layers)} {'/'.join(kinds)} layers")
