"""``GET /articles/{doc_id}``: one stored article as JSON, the articles related to it, and
``GET /stories/{story_id}``: every version of a story."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.api.deps import ElasticsearchDep, SettingsDep
from services.api.errors import ArticleNotFound, StoryNotFound
from shared.schemas import ArticleDocument
from shared.search.models import Related
from shared.search.query import get_article, related
from shared.search.stories import STORY_ID_PATTERN, Story, get_story

DOC_ID_PATTERN = r"^[0-9a-f]{32}$"
router = APIRouter(tags=["articles"])


@router.get(
    "/articles/{doc_id}", response_model=ArticleDocument, responses={404: {"description": "No such article"}}
)
def article(
    doc_id: Annotated[str, Path(pattern=DOC_ID_PATTERN, description="32 hex digits.")],
    cfg: SettingsDep,
    es: ElasticsearchDep,
) -> ArticleDocument:
    found = get_article(es, cfg.index, doc_id)
    if found is None:
        raise ArticleNotFound(doc_id)
    return found


@router.get(
    "/articles/{doc_id}/related",
    response_model=list[Related],
    responses={404: {"description": "No such article"}},
)
def related_articles(
    doc_id: Annotated[str, Path(pattern=DOC_ID_PATTERN, description="32 hex digits.")],
    cfg: SettingsDep,
    es: ElasticsearchDep,
) -> list[Related]:
    """The articles nearest this one by meaning, none of its own story ("more on this");
    empty when the article has no vector (see ArticleDocument.vector)."""
    found = get_article(es, cfg.index, doc_id)
    if found is None:
        raise ArticleNotFound(doc_id)
    return related(es, cfg.index, found)


@router.get(
    "/stories/{story_id}",
    response_model=Story,
    responses={404: {"description": "No such story"}},
    tags=["stories"],
)
def story(
    story_id: Annotated[str, Path(pattern=STORY_ID_PATTERN, description="A story_id from a search hit.")],
    cfg: SettingsDep,
    es: ElasticsearchDep,
) -> Story:
    """Every version of a story in order of first publication, what each adds to or drops
    from the earliest, and the story's entities."""
    found = get_story(es, cfg.index, story_id)
    if found is None:
        raise StoryNotFound(story_id)
    return found
