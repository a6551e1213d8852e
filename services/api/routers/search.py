"""``GET /search``: the JSON search. Errors are the handlers' (``services/api/errors.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import ElasticsearchDep, SettingsDep
from shared.search.models import SearchParams, SearchResult
from shared.search.query import search

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResult)
def search_articles(
    params: Annotated[SearchParams, Query()], cfg: SettingsDep, es: ElasticsearchDep
) -> SearchResult:
    return search(es, cfg.index, params, highlight_chars=cfg.highlight_max_chars)
