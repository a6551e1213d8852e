"""A real, tiny NER model for tests: trained on ``tests/fixtures/ner`` (about a minute on CPU).

Test fixtures call ``train_tiny_model(tmp_dir)`` once per session and point
``DATELINE_NER_MODEL`` at the returned path. Calling it again with the same folder reuses
the model as long as the corpus and training settings are unchanged (a fingerprint file
sits next to the model).

Its transformer is the bundled all-MiniLM-L6-v2 cut to its first ``ENCODER_LAYERS``
layers, written once to ``<folder>/encoder-<N>-layers`` (the saved model carries its own
copy of the weights, so only training reads that folder). Every integration test's
workers tag each article with this model, and with the full 6-layer encoder the entity
stage cost more than every other stage together on the slow 2-vCPU CI host. On the seed
articles (one torch thread, int8, as a worker runs it) the entity stage took 0.82-0.93 s
per article with 6 layers and 0.39-0.43 s with 2. The 2-layer model scores no worse on
the test split (F1 0.825 against 0.794, same corpus, epochs and seed) and trains in the
same time (about 65 s, plus about 11 s once to write the encoder).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
from pathlib import Path

from tests.support.paths import NER_CORPUS as CORPUS

EPOCHS = 50
SEED = 13
LANGUAGE = "en"  # recorded in the saved model (a model that records none is retrained)
ENCODER_LAYERS = 2  # of MiniLM's 6: the entity stage's cost per article (see above)
FINGERPRINT = "tiny-model.json"


def _fingerprint() -> str:
    settings = f"epochs={EPOCHS};seed={SEED};language={LANGUAGE};encoder_layers={ENCODER_LAYERS}"
    digest = hashlib.sha256(settings.encode())
    for split in ("train", "dev", "test"):
        digest.update((CORPUS / f"{split}.txt").read_bytes())
    return digest.hexdigest()


def truncated_encoder(out_dir: Path, layers: int = ENCODER_LAYERS) -> Path:
    """``out_dir/encoder-<layers>-layers``: the bundled MiniLM with only its first ``layers``
    transformer layers (and its tokenizer), written unless it is there already.

    Callers hold the training lock: test processes run side by side (pytest -n)."""
    from transformers import AutoModel, AutoTokenizer

    from services.worker.nlp.embeddings import minilm_path

    folder = Path(out_dir) / f"encoder-{layers}-layers"
    config = folder / "config.json"
    if config.is_file() and json.loads(config.read_text()).get("num_hidden_layers") == layers:
        return folder
    source = str(minilm_path())
    model = AutoModel.from_pretrained(source, local_files_only=True)
    if not 0 < layers <= len(model.encoder.layer):
        raise ValueError(f"MiniLM has {len(model.encoder.layer)} layers; cannot keep {layers}")
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    # Written beside the final folder and renamed: an interrupted write leaves no half encoder.
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


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
        encoder = truncated_encoder(out_dir)
        result = train_ner(
            CORPUS, out_dir, embeddings=str(encoder), epochs=EPOCHS, seed=SEED, language=LANGUAGE
        )
        stamp.write_text(
            json.dumps(
                {
                    "fingerprint": fingerprint,
                    "encoder_layers": ENCODER_LAYERS,
                    "test_f1": result.test_f1,
                    "seconds": result.seconds,
                },
                indent=2,
            )
        )
        return result.model_path
