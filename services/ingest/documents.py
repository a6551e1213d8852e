"""ParsedArticle -> ArticleDocument: ids, source paths and the source name."""

from __future__ import annotations

import os
from pathlib import Path

from services.ingest.paths import escape_name
from services.ingest.readers.base import ParsedArticle
from shared.schemas import ArticleDocument, Provenance, document_id
from shared.text.languages import iso_639_1
from shared.text.sentences import offsets, split_sentences
from shared.text.whitespace import content_sha256


def source_path_for(path: Path, inbox: Path) -> str:
    """Inbox-relative posix path, or the absolute path for a file outside the inbox, with
    bytes that are not UTF-8 escaped (``paths.escape_name``).

    ``path`` must be absolute and not resolved through symlinks: a link inside the inbox
    is known by its own name.
    """
    try:
        posix = path.relative_to(inbox).as_posix()
    except ValueError:
        posix = Path(os.path.abspath(path)).as_posix()
    return escape_name(posix)


def folder_source(path: Path, root: Path | None, *, enabled: bool = True) -> str | None:
    """The first folder under ``root`` (``inbox/Reuters/x.txt`` -> ``Reuters``), if any.

    The source rule (``DATELINE_SOURCE_FROM_FOLDER``): the file's own metadata names the
    source first (``build_document``); this folder name is the fallback, unless turned off.
    """
    if root is None or not enabled:
        return None
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 else None


def build_document(
    article: ParsedArticle, *, source_path: str, revision: int, folder: str | None = None
) -> ArticleDocument:
    """The document for one article; the file's own metadata names the source first."""
    return ArticleDocument(
        id=document_id(source_path, article.record),
        source_path=source_path,
        record=article.record,
        revision=revision,
        format=article.format,
        title=article.title,
        body=article.body,
        # Split once here; the stages and the article page use these offsets.
        sentences=offsets(split_sentences(article.body)),
        content_sha256=content_sha256(article.title, article.body),
        source=article.source or folder,
        published_at=article.published_at,
        author=article.author,
        url=article.url,
        dateline=article.dateline,
        # Normalised once, here: en-US, eng, English -> en (the worker reads only the code).
        language_hint=iso_639_1(article.language_hint),
        provenance=Provenance(repairs=article.repairs),
    )
