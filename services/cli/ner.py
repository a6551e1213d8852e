"""`dateline ner`: fetch the configured named-entity models, or train your own."""

from __future__ import annotations

import typer

from services.worker.ner_fetch import fetch_command
from services.worker.ner_training import ner_train_command

ner_app = typer.Typer(help="Named-entity models: fetch the configured ones, or train your own.")
ner_app.command("train")(ner_train_command)
ner_app.command("fetch")(fetch_command)
