"""The `dateline` command."""

from __future__ import annotations

import typer

from services.cli.health import health_command
from services.cli.index import index_app
from services.cli.reprocess import reprocess_command
from services.cli.search import search_command
from services.cli.serve import serve_app
from services.cli.stack import stack_app
from services.cli.status import status_command
from services.ingest.cli import ingest_command
from services.worker.ner_fetch import fetch_command
from services.worker.ner_training import ner_train_command

app = typer.Typer(
    help="Dateline: a folder of news articles in, a searchable enriched archive out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("status")(status_command)
app.command("reprocess")(reprocess_command)
app.command("ingest")(ingest_command)
app.command("search")(search_command)
app.command("health")(health_command)
app.add_typer(index_app, name="index")
ner_app = typer.Typer(help="Named-entity models: fetch the configured ones, or train your own.")
ner_app.command("train")(ner_train_command)
ner_app.command("fetch")(fetch_command)
app.add_typer(ner_app, name="ner")
app.add_typer(serve_app, name="serve")
app.add_typer(stack_app, name="stack")

if __name__ == "__main__":
    app()
