"""How the commands that read the archive end when it cannot answer: one sentence on stderr
and an exit status, 2 for input the user must change, 1 for the archive (no index yet,
Elasticsearch away or failing). Shared by ``search``, ``export``, ``watchlist`` and ``watch``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from elasticsearch import ApiError, NotFoundError, TransportError
from rich.console import Console
from rich.markup import escape

from shared.search.client import describe_failure
from shared.search.errors import SearchInputError
from shared.settings import Settings


def fail(err: Console, message: str, code: int) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def archive_errors(err: Console, settings: Settings) -> Iterator[None]:
    """Bad input -> exit status 2; no index or Elasticsearch failing -> 1."""
    try:
        yield
    except SearchInputError as exc:
        fail(err, str(exc), 2)
    except NotFoundError:
        fail(
            err,
            f"there is no index {settings.index!r} yet: start the indexer (it creates the index) "
            "and ingest some articles.",
            1,
        )
    except (TransportError, ApiError) as exc:
        fail(
            err,
            f"Elasticsearch at {settings.elasticsearch_url} {describe_failure(exc)}. Try `dateline status`.",
            1,
        )
