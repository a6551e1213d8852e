"""`dateline reprocess`: run one enrichment stage again on documents already indexed.

The stored text is the input, so nothing is re-ingested: after a model is installed or
changed, `--failed-only` fills in what a missing model left out, and after
DATELINE_NER_MAX_CHARS is raised, `--partial-only` tags the rest of the long articles.
Work goes through the same queues, workers and indexer as new articles.
"""

from __future__ import annotations

from typing import Any

import typer
from elasticsearch import helpers
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.celery_app import make_app
from shared.pipeline import UnsendableMessage, submit_document
from shared.schemas import STAGES, ArticleDocument
from shared.search.client import make_client
from shared.settings import get_settings


def reprocess_query(
    stage: str, languages: list[str], failed_only: bool, partial_only: bool = False
) -> dict[str, Any]:
    """Which documents to run ``stage`` on again."""
    filters: list[dict[str, Any]] = []
    if languages:
        filters.append({"terms": {"language": languages}})
    if failed_only:
        # Failed or never run; "skipped" (no model for a language) is left alone.
        filters.append(
            {
                "bool": {
                    "must_not": [
                        {"terms": {f"provenance.{stage}.status": ["ok", "skipped"]}},
                    ]
                }
            }
        )
    if partial_only:
        # The stage read only the start of the body (provenance's covered_chars).
        filters.append({"exists": {"field": f"provenance.{stage}.covered_chars"}})
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}


def reprocess_command(
    stage: str = typer.Option(..., "--stage", help=f"One of {', '.join(STAGES)}."),
    language: list[str] = typer.Option(
        [], "--language", help="Only documents in this language (repeatable)."
    ),
    failed_only: bool = typer.Option(False, "--failed-only", help="Only documents where the stage failed."),
    partial_only: bool = typer.Option(
        False,
        "--partial-only",
        help="Only documents whose body the stage read in part (longer than DATELINE_NER_MAX_CHARS).",
    ),
) -> None:
    """Re-run one stage for indexed documents, from their stored text, with a progress bar."""
    if stage not in STAGES:
        raise typer.BadParameter(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    settings = get_settings()
    celery_app = make_app(settings)
    es = make_client()
    query = reprocess_query(stage, language, failed_only, partial_only)
    total = int(es.count(index=settings.index, query=query)["count"])
    if total == 0:
        typer.echo("Nothing to reprocess: no document matches.")
        return
    queued, unreadable = 0, []
    columns = (TextColumn("queueing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        bar = progress.add_task("reprocess", total=total)
        for hit in helpers.scan(es, index=settings.index, query={"query": query}, preserve_order=False):
            try:
                document = ArticleDocument.model_validate(hit["_source"])
            except ValidationError as exc:
                unreadable.append(f"{hit['_id']}: {exc.errors()[0]['msg']}")
            else:
                try:
                    submit_document(celery_app, document, stages=[stage])
                except UnsendableMessage as exc:  # one document never stops the others
                    unreadable.append(f"{hit['_id']} ({document.source_path}): {exc}")
                else:
                    queued += 1
            progress.advance(bar)
    typer.echo(f"Queued {queued} document(s) for the {stage} stage; `dateline status` shows progress.")
    for line in unreadable:
        typer.echo(f"skipped document {line}", err=True)
