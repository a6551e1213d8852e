"""The `dateline` command loads each command's module only when that command runs
(``services/cli/main.py``), so `dateline status` and the compose healthcheck's `dateline
health` do not pay for Elasticsearch's client, Celery, the ingest readers and the models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from services.cli.main import COMMANDS, app, load_command
from tests.support.paths import REPO_DIR

# Heavy packages no command needs just to start: each is imported only by a command's module.
HEAVY = ("elasticsearch", "celery", "kombu", "trafilatura", "sklearn", "torch", "flair", "transformers")


def imported_by(code: str) -> set[str]:
    """Top-level packages imported by ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_DIR, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_command_imports_no_heavy_package() -> None:
    assert imported_by("import services.cli.main") & set(HEAVY) == set()


def test_a_command_imports_what_it_needs_and_not_the_others() -> None:
    # `serve` starts a service: the service's own imports come with it, nothing else's.
    loaded = imported_by("from services.cli.main import load_command; load_command('serve')")
    assert loaded & set(HEAVY) == set()
    assert "elasticsearch" in imported_by(
        "from services.cli.main import load_command; load_command('search')"
    )


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_loads_under_its_own_name(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    module, attribute = COMMANDS[name]
    if isinstance(getattr(sys.modules[module], attribute), typer.Typer):
        assert isinstance(command, TyperGroup) and command.commands  # its subcommands
    else:
        assert isinstance(command, TyperCommand)


def test_help_lists_every_command_and_an_unknown_one_is_refused() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["--help"])
    assert listed.exit_code == 0
    for name in COMMANDS:
        assert f" {name} " in listed.output
    unknown = runner.invoke(app, ["statsu"])
    assert unknown.exit_code == 2 and "statsu" in unknown.output


def test_a_subcommand_of_a_lazy_group_runs() -> None:
    result = CliRunner().invoke(app, ["ner", "train", "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
