"""``GET /articles/{doc_id}``: one stored article as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.api.deps import ElasticsearchDep, SettingsDep
from services.api.errors import ArticleNotFound
from shared.schemas import ArticleDocument
from shared.search.query import get_article

DOC_ID_PATTERN = r"^[0-9a-f]{32}$"
router = APIRouter(tags=["articles"])


@router.get("/articles/{doc_id}", response_model=ArticleDocument, responses={404: {"description": "No such article"}})
def article(doc_id: Annotated[str, Path(pattern=DOC_ID_PATTERN, description="32 hex digits.")],
            cfg: SettingsDep, es: ElasticsearchDep) -> ArticleDocument:
    found = get_article(es, cfg.index, doc_id)
    if found is None:
        raise ArticleNotFound(doc_id)
    return found
