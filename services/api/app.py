"""The HTTP API: search, single articles, health and status (FastAPI; OpenAPI at /docs).

Every read goes through the Dateline alias from settings; no endpoint takes an index name
or a path, so the API cannot be turned into a general Elasticsearch proxy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, List, Optional

import redis
from elasticsearch import ApiError, NotFoundError, TransportError
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from typing_extensions import Annotated

from services.api.deps import elasticsearch_for, redis_for
from shared.heartbeat import Heartbeat, HeartbeatWriter, read_heartbeats
from shared.redis_client import display_url
from shared.schemas import ArticleDocument
from shared.search.client import describe_failure
from shared.search.models import SearchInputError, SearchParams, SearchResult, describe_errors
from shared.search.query import get_article, search
from shared.settings import Settings, get_settings
from shared.status import WORKER_SERVICE

DOC_ID_PATTERN = r"^[0-9a-f]{32}$"
log = logging.getLogger(__name__)


class Part(BaseModel):
    ok: bool
    detail: str = ""


class ElasticsearchPart(Part):
    status: Optional[str] = None
    index: Optional[str] = None


class WorkersPart(Part):
    count: int = 0
    workers: List[Heartbeat] = []


class Health(BaseModel):
    ok: bool
    redis: Part
    elasticsearch: ElasticsearchPart
    workers: WorkersPart


def _unavailable(what: str, exc: Exception) -> HTTPException:
    """A 503 in plain words: the client's exception (class, internal message) goes to the log."""
    log.warning("%s failed: %r", what, exc)
    why = describe_failure(exc) if what == "Elasticsearch" else "does not answer"
    return HTTPException(status_code=503, detail=f"{what} is unavailable: it {why}; try again shortly")


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """A 422 that says why in one sentence (``detail``), plus each error's field and message;
    the input is not echoed back."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={
        "detail": describe_errors(errors),
        "errors": [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                    "type": e.get("type")} for e in errors],
    })


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API; ``settings`` default to ``get_settings()``, read at each request."""
    def current() -> Settings:
        return settings or get_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        cfg = current()
        heartbeat = HeartbeatWriter(lambda: redis_for(cfg.redis_url), "api", cfg.heartbeat_seconds,
                                    lambda: {"listen": f"{cfg.api_host}:{cfg.api_port}"})
        heartbeat.start()
        try:
            yield
        finally:
            heartbeat.stop()

    app = FastAPI(
        title="Dateline",
        description="Search an enriched archive of news articles.",
        version="1",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _invalid_request)

    @app.get("/search", response_model=SearchResult)
    def search_articles(params: Annotated[SearchParams, Query()]) -> SearchResult:
        cfg = current()
        try:
            return search(elasticsearch_for(cfg.elasticsearch_url, cfg), cfg.index, params)
        except SearchInputError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except NotFoundError:
            raise HTTPException(
                status_code=503, detail=f"the index {cfg.index!r} does not exist yet; start the indexer"
            ) from None
        except (TransportError, ApiError) as exc:
            raise _unavailable("Elasticsearch", exc) from None

    @app.get("/articles/{doc_id}", response_model=ArticleDocument, responses={404: {"description": "No such article"}})
    def article(doc_id: Annotated[str, Path(pattern=DOC_ID_PATTERN, description="32 hex digits.")]) -> Any:
        cfg = current()
        try:
            found = get_article(elasticsearch_for(cfg.elasticsearch_url, cfg), cfg.index, doc_id)
        except (TransportError, ApiError) as exc:
            raise _unavailable("Elasticsearch", exc) from None
        if found is None:
            raise HTTPException(status_code=404, detail=f"no article with id {doc_id}")
        return found

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    def health() -> JSONResponse:
        cfg = current()
        body = check_health(cfg)
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ok else 503)

    @app.get("/status")
    def status() -> Any:
        from shared.status import collect_status

        cfg = current()
        try:
            return collect_status(redis_for(cfg.redis_url)).model_dump(mode="json")
        except redis.RedisError as exc:
            raise _unavailable("Redis", exc) from None

    return app


def check_health(cfg: Settings) -> Health:
    client = redis_for(cfg.redis_url)
    try:
        client.ping()
        redis_part = Part(ok=True)
    except redis.RedisError as exc:
        log.warning("Redis health check failed: %r", exc)
        redis_part = Part(ok=False, detail=f"{display_url(cfg.redis_url)} does not answer")

    try:
        es = elasticsearch_for(cfg.elasticsearch_url, cfg)
        cluster = es.cluster.health(timeout="5s")
        status = str(cluster["status"])
        index = cfg.index if es.indices.exists_alias(name=cfg.index) else None
        es_part = ElasticsearchPart(
            ok=status in ("green", "yellow"), status=status, index=index,
            detail="" if status != "red" else "cluster health is red: some data is unavailable",
        )
    except (TransportError, ApiError) as exc:
        log.warning("Elasticsearch health check failed: %r", exc)
        es_part = ElasticsearchPart(ok=False, detail=f"{cfg.elasticsearch_url} {describe_failure(exc)}")

    workers_part = WorkersPart(ok=False, detail="Redis is down" if not redis_part.ok else "")
    if redis_part.ok:
        try:
            beats = read_heartbeats(client, WORKER_SERVICE)
            workers_part = WorkersPart(
                ok=bool(beats), count=len(beats), workers=beats,
                detail="" if beats else "no enrichment worker has a live heartbeat; start one",
            )
        except redis.RedisError as exc:
            log.warning("reading heartbeats failed: %r", exc)
            workers_part = WorkersPart(ok=False, detail="Redis does not answer")
    return Health(
        ok=redis_part.ok and es_part.ok and workers_part.ok,
        redis=redis_part, elasticsearch=es_part, workers=workers_part,
    )


app = create_app()
