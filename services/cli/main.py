"""The `dateline` command.

Each command's module is imported only when that command runs (``LazyCommands``): importing
every one of them (Elasticsearch's client, Celery, the ingest readers with trafilatura, ...)
cost 2.1 s of CPU on every `dateline status`, every `dateline health` the compose healthcheck
runs every few seconds and every `dateline serve` a supervisor starts. `dateline --help`
still imports them all, to show each command's help.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

import typer
from pydantic import ValidationError
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo

from services.cli.settings import exit_for

# Name -> (module, attribute): a command function, or a Typer app of subcommands. In the
# order `dateline --help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("services.cli.status", "status_command"),
    "reprocess": ("services.cli.reprocess", "reprocess_command"),
    "ingest": ("services.ingest.cli", "ingest_command"),
    "search": ("services.cli.search", "search_command"),
    "export": ("services.cli.export", "export_command"),
    "watchlist": ("services.cli.export", "watchlist_command"),
    "health": ("services.cli.health", "health_command"),
    "index": ("services.cli.index", "index_app"),
    "ner": ("services.cli.ner", "ner_app"),
    "serve": ("services.cli.serve", "serve_app"),
    "stack": ("services.cli.stack", "stack_app"),
    "watch": ("services.cli.watch", "watch_app"),
}


class LazyCommands(TyperGroup):
    """The top-level group: a command's module is imported when the command is looked up."""

    # ``ctx`` and the command are of Typer's own (vendored) click.
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]


def load_command(name: str) -> TyperCommand | TyperGroup:
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    command: TyperCommand | TyperGroup
    if isinstance(target, typer.Typer):
        command = get_group(target)
    else:
        info = CommandInfo(name=name, callback=target)  # built as a TyperCommand, typed as click's
        command = cast(
            TyperCommand,
            get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            ),
        )
    command.name = name
    return command


class DatelineApp(typer.Typer):
    """The ``dateline`` command. Invalid settings met anywhere in a command (``get_settings()``
    raises pydantic's ValidationError, whose text quotes every value given, passwords
    included) end it with one line per problem and exit status 2, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            if exc.title != "Settings":
                raise
            exit_for(exc)
            raise SystemExit(2) from None


app = DatelineApp(
    cls=LazyCommands,
    help="Dateline: a folder of news articles in, a searchable enriched archive out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main() -> None:
    # No options of its own: the callback makes Typer build a group (LazyCommands) with no
    # command registered up front.
    pass


if __name__ == "__main__":
    app()
