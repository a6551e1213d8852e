"""Env files: what a supervised program gets, which changes restart it, and values that
hold JSON, quotes and % arrive unchanged."""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.serve import serve_app
from services.stack.environment import (
    ENV_FILE_VARIABLE,
    changed_settings,
    configured,
    load_env_file,
    program_environment,
    read_env_file,
    write_env_file,
)

TRICKY = {
    "DATELINE_NER_MODELS": '{"de": "flair/ner-german", "ur": ""}',
    "DATELINE_NER_MODEL": "models/odd %(name)s \"quoted\" 'model'; #1.pt",
    "DATELINE_INBOX": "/data/in box,with=comma",
}


def test_environment_wins_over_dotenv_and_names_are_upper_cased(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "DATELINE_NER_MODEL=from-dotenv\nDATELINE_SUMMARY_SENTENCES=4\nOTHER=x\n"
        'DATELINE_NER_MODELS={"de": "a"}\n'
    )
    values = configured(
        {
            "DATELINE_NER_MODEL": "from-env",
            "dateline_index": "news",
            "PATH": "/bin",
            ENV_FILE_VARIABLE: "/old.json",
        },
        dotenv,
    )
    assert values == {
        "DATELINE_NER_MODEL": "from-env",
        "DATELINE_SUMMARY_SENTENCES": "4",
        "DATELINE_INDEX": "news",
        "DATELINE_NER_MODELS": '{"de": "a"}',
    }


def test_programs_get_settings_and_library_variables_not_the_shell():
    env = program_environment(
        {
            "DATELINE_INDEX": "news",
            "HF_HUB_OFFLINE": "1",
            "https_proxy": "http://p:3128",
            "PATH": "/usr/bin",
            "HOME": "/root",
            "PS1": "$ ",
            "SECRET_TOKEN": "x",
        }
    )
    assert env == {"DATELINE_INDEX": "news", "HF_HUB_OFFLINE": "1", "https_proxy": "http://p:3128"}


def test_a_change_restarts_only_the_services_that_read_it():
    old = {
        "DATELINE_NER_MODEL": "a.pt",
        "DATELINE_API_PORT": "8000",
        "DATELINE_INDEX": "news",
        "HF_HUB_OFFLINE": "1",
    }
    assert changed_settings("worker", old, {**old, "DATELINE_NER_MODEL": "b.pt"}) == ["DATELINE_NER_MODEL"]
    assert changed_settings("ingest", old, {**old, "DATELINE_NER_MODEL": "b.pt"}) == []
    assert changed_settings("api", old, {**old, "DATELINE_API_PORT": "8001"}) == ["DATELINE_API_PORT"]
    assert changed_settings("worker", old, {**old, "DATELINE_API_PORT": "8001"}) == []
    # A setting every service reads, set or unset.
    assert changed_settings("indexer", old, {**old, "DATELINE_INDEX": "other"}) == ["DATELINE_INDEX"]
    assert changed_settings("ingest", old, {k: v for k, v in old.items() if k != "DATELINE_INDEX"}) == [
        "DATELINE_INDEX"
    ]
    # DATELINE_* read outside the settings (the log level) concerns every service.
    assert changed_settings("ingest", old, {**old, "DATELINE_LOG_LEVEL": "DEBUG"}) == ["DATELINE_LOG_LEVEL"]
    # The stack's own settings and library variables restart nothing.
    assert changed_settings("worker", old, {**old, "DATELINE_LOG_MAX_MB": "5", "HF_HUB_OFFLINE": "0"}) == []
    assert changed_settings("worker", old, dict(old)) == []


def test_env_file_round_trip_keeps_every_value_as_given(tmp_path: Path):
    path = tmp_path / "env" / "worker-ner.json"
    write_env_file(path, TRICKY)
    assert read_env_file(path) == TRICKY
    assert os.stat(path).st_mode & 0o777 == 0o600  # may hold a Redis password
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    environ = {ENV_FILE_VARIABLE: str(path), "DATELINE_NER_MODEL": "overridden"}
    assert load_env_file(environ) == path
    assert {k: environ[k] for k in TRICKY} == TRICKY
    assert read_env_file(tmp_path / "missing.json") is None
    with pytest.raises(FileNotFoundError, match="dateline stack up"):
        load_env_file({ENV_FILE_VARIABLE: str(tmp_path / "missing.json")})
    assert load_env_file({}) is None


def test_dateline_serve_loads_its_env_file_before_reading_settings(tmp_path: Path, monkeypatch):
    path = tmp_path / "api.json"
    write_env_file(path, TRICKY)
    for key in TRICKY:
        monkeypatch.setenv(key, "before")  # restored afterwards
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(path))
    result = CliRunner().invoke(serve_app, ["api", "--help"])
    assert result.exit_code == 0, result.output
    assert {k: os.environ[k] for k in TRICKY} == TRICKY

    monkeypatch.setenv(ENV_FILE_VARIABLE, str(tmp_path / "gone.json"))
    result = CliRunner().invoke(serve_app, ["api", "--help"])
    assert result.exit_code == 2 and "dateline stack up" in result.output


def test_an_env_file_is_private_even_over_a_world_readable_leftover(tmp_path: Path):
    path = tmp_path / "worker-ner.json"
    leftover = path.with_name(path.name + ".partial")
    leftover.write_text("{}")
    leftover.chmod(0o666)  # a crash between open and rename, with a lax umask
    write_env_file(path, {"DATELINE_REDIS_URL": "redis://:pw@127.0.0.1:6390/0"})
    assert os.stat(path).st_mode & 0o777 == 0o600
