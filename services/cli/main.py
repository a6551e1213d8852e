"""The `dateline` command."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from services.cli.export import export_command, watchlist_command
from services.cli.health import health_command
from services.cli.index import index_app
from services.cli.reprocess import reprocess_command
from services.cli.search import search_command
from services.cli.serve import serve_app
from services.cli.settings import exit_for
from services.cli.stack import stack_app
from services.cli.status import status_command
from services.cli.watch import watch_app
from services.ingest.cli import ingest_command
from services.worker.ner_fetch import fetch_command
from services.worker.ner_training import ner_train_command


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
    help="Dateline: a folder of news articles in, a searchable enriched archive out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("status")(status_command)
app.command("reprocess")(reprocess_command)
app.command("ingest")(ingest_command)
app.command("search")(search_command)
app.command("export")(export_command)
app.command("watchlist")(watchlist_command)
app.command("health")(health_command)
app.add_typer(index_app, name="index")
ner_app = typer.Typer(help="Named-entity models: fetch the configured ones, or train your own.")
ner_app.command("train")(ner_train_command)
ner_app.command("fetch")(fetch_command)
app.add_typer(ner_app, name="ner")
app.add_typer(serve_app, name="serve")
app.add_typer(stack_app, name="stack")
app.add_typer(watch_app, name="watch")

if __name__ == "__main__":
    app()
