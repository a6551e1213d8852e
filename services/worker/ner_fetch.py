"""`dateline ner fetch`: download every configured NER model ahead of time.

Workers run offline (they never wait on a model hub in the middle of a task), so the
models named by ``DATELINE_NER_MODEL`` and ``DATELINE_NER_MODELS`` are fetched where there
is network - the Docker image does it at build time - into flair's cache
(``FLAIR_CACHE_ROOT``), one of the folders workers load models from. Local ``.pt`` paths
are only checked: that they exist, and that they are in the model folder
(``DATELINE_MODEL_DIR``), since workers refuse model files anywhere else (they are pickles).

Each download runs in a child process: the CLI's own process has set the model hub to
offline mode (``HF_HUB_OFFLINE``) before anything could be fetched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from services.worker.nlp.ner_models import hub_entry
from services.worker.stages.entities import ModelUnavailable, check_model_file
from shared.settings import Settings, get_settings


def configured_models(settings: Settings) -> list[str]:
    """The default model, then each per-language model, once each."""
    names = [settings.ner_model, *settings.ner_models.values()]
    return list(dict.fromkeys(name for name in names if name))


def _is_path(name: str) -> bool:
    return name.endswith((".pt", ".pth", ".bin")) or os.sep in name and not name.startswith("flair/")


def fetch_command() -> None:
    """Download the configured NER models into flair's cache (run where there is network)."""
    settings = get_settings()
    failed = []
    for name in configured_models(settings):
        if _is_path(name):
            path = Path(name).expanduser()
            if not path.is_file():
                typer.echo(f"{name}: local file, MISSING")
                failed.append(name)
                continue
            try:
                check_model_file(path, settings)
            except ModelUnavailable as exc:
                typer.echo(f"{name}: local file, REFUSED: {exc}")
                failed.append(name)
                continue
            typer.echo(f"{name}: local file, found in {settings.model_path}")
            continue
        entry = hub_entry(name)
        languages = (
            ", ".join(entry.languages) if entry else "languages unknown: map them in DATELINE_NER_MODELS"
        )
        typer.echo(f"{name} ({languages}): fetching ...")
        online = {**os.environ, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}
        result = subprocess.run([sys.executable, "-m", "services.worker.ner_fetch", name], env=online)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        typer.echo(f"could not fetch: {', '.join(failed)} (is the model hub reachable from here?)", err=True)
        raise typer.Exit(1)


def _download(name: str) -> None:
    from flair.models import SequenceTagger

    SequenceTagger.load(name)


if __name__ == "__main__":
    _download(sys.argv[1])
