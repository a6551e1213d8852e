"""`make setup` gives .env the compose secrets: random, private, and never changed once real."""

from __future__ import annotations

import stat
import subprocess
import sys

from deploy.env_secrets import SECRETS, fill
from services.stack.environment import changed_settings, program_environment
from shared.settings import Settings, is_placeholder
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


def test_the_api_token_and_webhook_secret_reach_dateline_from_env(tmp_path):
    """Dateline's own secrets are settings: read from .env by the services (pydantic-settings)
    and by the local stack (`make run`/`make up` pass .env's DATELINE_* to every program)."""
    env = tmp_path / ".env"
    env.write_text((REPO_DIR / ".env.example").read_text())
    fill(env)
    values = _values(env.read_text())
    cfg = Settings(_env_file=env)
    assert cfg.api_token is not None and cfg.api_token.get_secret_value() == values["DATELINE_API_TOKEN"]
    assert cfg.webhook_secret is not None
    assert cfg.webhook_secret.get_secret_value() == values["DATELINE_WEBHOOK_SECRET"]
    passed = program_environment({}, env)
    assert passed["DATELINE_API_TOKEN"] == values["DATELINE_API_TOKEN"]
    # A new token restarts the API on the next `make up` (and so logs everyone out).
    other = {**passed, "DATELINE_API_TOKEN": "another-Qx81mZ"}
    assert "DATELINE_API_TOKEN" in changed_settings("api", passed, other)


def test_a_placeholder_token_allows_no_changes():
    from services.api.auth import configured_token

    assert configured_token(Settings(_env_file=None, api_token="change-me")) is None
    assert configured_token(Settings(_env_file=None, api_token="")) is None
    assert configured_token(Settings(_env_file=None, api_token="Zr8-real-41x")) == "Zr8-real-41x"
