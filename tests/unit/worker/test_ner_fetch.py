"""The models the Docker image fetches at build time are the configured ones, and its
defaults are the ones chosen for CPUs."""

from __future__ import annotations

import json
import re

import pytest

from services.worker.ner_fetch import configured_models
from services.worker.nlp.ner_models import CPU_DEFAULTS
from shared.settings import Settings
from tests.support.paths import REPO_DIR

pytestmark = pytest.mark.unit


def _build_arg(name: str) -> str:
    text = (REPO_DIR / "deploy" / "Dockerfile").read_text()
    (value,) = re.findall(rf"^ARG {name}=(.*)$", text, flags=re.MULTILINE)
    return value.strip().strip("'")


def test_the_image_fetches_the_cpu_default_for_every_language() -> None:
    assert _build_arg("NER_MODEL") == CPU_DEFAULTS["en"]
    per_language = json.loads(_build_arg("NER_MODELS"))
    assert per_language == {lang: model for lang, model in CPU_DEFAULTS.items() if lang != "en"}
    text = (REPO_DIR / "deploy" / "Dockerfile").read_text()
    assert "RUN dateline ner fetch" in text


def test_configured_models_are_the_default_and_each_language_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATELINE_NER_MODEL", "flair/ner-english-fast")
    monkeypatch.setenv(
        "DATELINE_NER_MODELS", '{"de": "flair/ner-multi-fast", "nl": "flair/ner-multi-fast", "ur": ""}'
    )
    assert configured_models(Settings(_env_file=None)) == ["flair/ner-english-fast", "flair/ner-multi-fast"]


def test_fetch_checks_local_model_files_are_in_the_model_folder(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from services.worker.ner_fetch import fetch_command
    from shared.settings import get_settings

    models = tmp_path / "models"
    models.mkdir()
    (models / "ok.pt").write_bytes(b"x")
    (tmp_path / "stray.pt").write_bytes(b"x")
    monkeypatch.setenv("DATELINE_MODEL_DIR", str(models))
    monkeypatch.setenv("DATELINE_NER_MODEL", str(models / "ok.pt"))
    monkeypatch.setenv("DATELINE_NER_MODELS", f'{{"de": "{tmp_path / "stray.pt"}"}}')
    get_settings.cache_clear()
    try:
        with pytest.raises(typer.Exit):
            fetch_command()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert f"{models / 'ok.pt'}: local file, found in {models.resolve()}" in out.out
    assert (
        f"{tmp_path / 'stray.pt'}: local file, REFUSED" in out.out and "outside the model folder" in out.out
    )
    assert "stray.pt" in out.err
