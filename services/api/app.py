"""The HTTP API: search, single articles, health and status (FastAPI; OpenAPI at /docs),
and the pages for people (``web.py``: search, article view, pipeline, docs).

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
from pydantic import BaseModel, Field
from typing_extensions import Annotated

from services.api import web
from services.api.deps import elasticsearch_for, redis_for, status_for
from services.api.security import HeadAsGet, SecurityHeaders, TrustedHosts
from shared.expected import Part as ExpectedPart
from shared.heartbeat import ApiDetails, Heartbeat, HeartbeatWriter
from shared.redis_client import display_url
from shared.schemas import ArticleDocument
from shared.search.client import describe_failure, quick
from shared.search.errors import ArchiveFailure
from shared.search.models import SearchInputError, SearchParams, SearchResult, describe_errors
from shared.search.query import get_article, search
from shared.settings import Settings, get_settings
from shared.status import State, unreachable

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
    ok: bool = Field(description="True when the state is ok.")
    state: State = Field(description="ok; degraded (see reasons); down: Redis does not answer.")
    reasons: List[str] = Field(description="Why the state is not ok, one sentence each (as `dateline status`).")
    redis: Part
    elasticsearch: ElasticsearchPart
    workers: WorkersPart
    parts: List[ExpectedPart] = Field(description="Each expected service and stage, and what serves it.")


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
                                    lambda: ApiDetails(listen=f"{cfg.api_host}:{cfg.api_port}"))
        heartbeat.start()
        try:
            yield
        finally:
            heartbeat.stop()

    app = FastAPI(
        title="Dateline",
        description="Search an enriched archive of news articles. The search page is at /, "
        "the pipeline's state at /pipeline.",
        version="1",
        lifespan=lifespan,
        # /docs is served by web.py from local files (the default loads Swagger UI from a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _invalid_request)
    # Outermost last: every response (a refused host's 400 included) gets the headers.
    app.add_middleware(HeadAsGet)
    app.add_middleware(TrustedHosts, settings=current)
    app.add_middleware(SecurityHeaders)

    @app.get("/search", response_model=SearchResult)
    def search_articles(params: Annotated[SearchParams, Query()]) -> SearchResult:
        cfg = current()
        try:
            return search(elasticsearch_for(cfg.elasticsearch_url, cfg), cfg.index, params,
                          highlight_chars=cfg.highlight_max_chars)
        except SearchInputError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except ArchiveFailure as exc:
            # The archive's fault (a document, the index), not the query's: a server error.
            log.warning("search failed in Elasticsearch: %s", exc.cause)
            raise HTTPException(status_code=500, detail=f"the archive failed to answer this search: {exc.cause}") \
                from None
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
        """200 while searches can be answered (state ok, or degraded with reasons); 503 when
        Redis or Elasticsearch does not answer."""
        cfg = current()
        body = check_health(cfg)
        serving = body.state != "down" and body.elasticsearch.ok
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if serving else 503)

    @app.get("/status")
    def status() -> Any:
        """Everything `dateline status --json` shows: state and reasons, files, queues,
        processes, failures grouped by file, failed documents, rate and ETA."""
        cfg = current()
        try:
            return status_for(cfg).model_dump(mode="json")
        except redis.RedisError as exc:
            raise _unavailable("Redis", exc) from None

    web.install(app, current)
    return app


def check_health(cfg: Settings) -> Health:
    """The shared status's state and reasons, with each backing part spelled out."""
    try:
        status = status_for(cfg, outcomes=False)
    except redis.RedisError as exc:
        down = unreachable(cfg.redis_url, exc)
        return Health(ok=False, state=down.state, reasons=down.reasons,
                      redis=Part(ok=False, detail=f"{display_url(cfg.redis_url)} does not answer"),
                      elasticsearch=_elasticsearch_part(cfg), workers=WorkersPart(ok=False, detail="Redis is down"),
                      parts=[])
    index = status.index
    assert index is not None  # asked for above
    es_part = ElasticsearchPart(ok=index.reachable and index.cluster in ("green", "yellow"), status=index.cluster,
                                index=cfg.index if index.alias_exists else None,
                                detail="" if index.reachable else f"{cfg.elasticsearch_url}: {index.detail}")
    stages = [p for p in status.parts if p.kind == "stage"]
    missing = [p.name for p in stages if p.presence != "running"]
    workers = WorkersPart(
        ok=not missing, count=len(status.workers), workers=status.workers,
        detail=f"no running worker for: {', '.join(missing)}" if missing else "",
    )
    return Health(ok=status.state == "ok", state=status.state, reasons=status.reasons, redis=Part(ok=True),
                  elasticsearch=es_part, workers=workers, parts=status.parts)


def _elasticsearch_part(cfg: Settings) -> ElasticsearchPart:
    try:
        cluster = str(quick(elasticsearch_for(cfg.elasticsearch_url, cfg), 5).cluster.health(timeout="5s")["status"])
    except (TransportError, ApiError) as exc:
        log.warning("Elasticsearch health check failed: %r", exc)
        return ElasticsearchPart(ok=False, detail=f"{cfg.elasticsearch_url} {describe_failure(exc)}")
    return ElasticsearchPart(ok=cluster in ("green", "yellow"), status=cluster)


app = create_app()
