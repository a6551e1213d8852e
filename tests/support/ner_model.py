"""A real, tiny NER model for tests: trained on ``tests/fixtures/ner`` (about a minute on CPU).

Test fixtures call ``train_tiny_model(tmp_dir)`` once per session and point
``DATELINE_NER_MODEL`` at the returned path. Calling it again with the same folder reuses
the model as long as the corpus and training settings are unchanged (a fingerprint file
sits next to the model).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path

from tests.support.paths import NER_CORPUS as CORPUS

EPOCHS = 50
SEED = 13
LANGUAGE = "en"  # recorded in the saved model (a model that records none is retrained)
FINGERPRINT = "tiny-model.json"


def _fingerprint() -> str:
    digest = hashlib.sha256(f"epochs={EPOCHS};seed={SEED};language={LANGUAGE}".encode())
    for split in ("train", "dev", "test"):
        digest.update((CORPUS / f"{split}.txt").read_bytes())
    return digest.hexdigest()


def train_tiny_model(out_dir: Path) -> Path:
    """Train (or reuse) the tiny tagger in ``out_dir``; returns its ``final-model.pt``."""
    from services.worker.ner_training import MODEL_FILE, train_ner

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, stamp = out_dir / MODEL_FILE, out_dir / FINGERPRINT
    fingerprint = _fingerprint()
    # Test processes run side by side (pytest -n): one trains, the others wait and reuse it.
    with open(out_dir / ".training.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if model.is_file() and stamp.is_file():
            if json.loads(stamp.read_text()).get("fingerprint") == fingerprint:
                return model
        result = train_ner(CORPUS, out_dir, epochs=EPOCHS, seed=SEED, language=LANGUAGE)
        stamp.write_text(json.dumps({"fingerprint": fingerprint, "test_f1": result.test_f1}, indent=2))
        return result.model_path
