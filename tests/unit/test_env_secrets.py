"""`make setup` gives .env the compose secrets: random, private, and never changed once real."""

from __future__ import annotations

import stat
import subprocess
import sys

from deploy.env_secrets import SECRETS, fill
from shared.settings import is_placeholder
from tests.support.paths import REPO_DIR


def _values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_a_missing_env_gets_every_secret_random_and_private(tmp_path):
    env = tmp_path / ".env"
    assert fill(env) == list(SECRETS)
    values = _values(env.read_text())
    assert set(values) == set(SECRETS)
    assert all(len(v) >= 40 and not is_placeholder(v) for v in values.values())
    assert len(set(values.values())) == len(values)  # each its own
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    other = tmp_path / "other.env"
    fill(other)
    assert not set(_values(other.read_text()).values()) & set(values.values())


def test_it_is_idempotent_and_keeps_what_is_there(tmp_path):
    env = tmp_path / ".env"
    env.write_text("DATELINE_NER_MODEL=models/ner.pt\n# mine\nREDIS_PASSWORD=my-own-Rz8qL2x\n")
    env.chmod(0o644)
    written = fill(env)
    assert "REDIS_PASSWORD" not in written and set(written) == set(SECRETS) - {"REDIS_PASSWORD"}
    text = env.read_text()
    assert text.startswith("DATELINE_NER_MODEL=models/ner.pt\n# mine\nREDIS_PASSWORD=my-own-Rz8qL2x\n")
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert fill(env) == [] and env.read_text() == text  # a second run changes nothing


def test_placeholders_from_the_example_are_replaced(tmp_path):
    env = tmp_path / ".env"
    env.write_text((REPO_DIR / ".env.example").read_text())
    assert sorted(fill(env)) == sorted(SECRETS)
    values = _values(env.read_text())
    assert not any(is_placeholder(values[name]) for name in SECRETS)
    assert (
        "# DATELINE_REDIS_URL=redis://:REDIS_PASSWORD@10.0.0.5:6379/0" in env.read_text()
    )  # the rest is kept


def test_make_setup_runs_it_as_a_script(tmp_path):
    env = tmp_path / ".env"
    result = subprocess.run(
        [sys.executable, str(REPO_DIR / "deploy" / "env_secrets.py"), str(env)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "generated" in result.stdout and set(_values(env.read_text())) == set(SECRETS)
    for name in SECRETS:  # names only: a secret is never printed
        assert _values(env.read_text())[name] not in result.stdout
