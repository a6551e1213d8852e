"""``GET /health`` and ``GET /status``: the shared status (shared/status.py) as JSON."""

from __future__ import annotations

import logging
from typing import Any, List, Optional

import redis
from elasticsearch import ApiError, TransportError
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.api.deps import SettingsDep, elasticsearch_for, status_for
from shared.expected import Part as ExpectedPart
from shared.heartbeat import Heartbeat
from shared.redis_client import display_url
from shared.search.client import describe_failure, quick
from shared.settings import Settings
from shared.status import State, unreachable

log = logging.getLogger(__name__)
router = APIRouter(tags=["status"])


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
    reasons: List[str] = Field(
        description="Why the state is not ok, one sentence each (as `dateline status`)."
    )
    redis: Part
    elasticsearch: ElasticsearchPart
    workers: WorkersPart
    parts: List[ExpectedPart] = Field(description="Each expected service and stage, and what serves it.")


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(cfg: SettingsDep) -> JSONResponse:
    """200 while searches can be answered (state ok, or degraded with reasons); 503 when
    Redis or Elasticsearch does not answer."""
    body = check_health(cfg)
    serving = body.state != "down" and body.elasticsearch.ok
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if serving else 503)


@router.get("/status")
def status(cfg: SettingsDep) -> Any:
    """Everything `dateline status --json` shows: state and reasons, files, queues,
    processes, failures grouped by file, failed documents, rate and ETA."""
    return status_for(cfg).model_dump(mode="json")


def check_health(cfg: Settings) -> Health:
    """The shared status's state and reasons, with each backing part spelled out."""
    try:
        status = status_for(cfg, outcomes=False)
    except redis.RedisError as exc:
        down = unreachable(cfg.redis_url, exc)
        return Health(
            ok=False,
            state=down.state,
            reasons=down.reasons,
            redis=Part(ok=False, detail=f"{display_url(cfg.redis_url)} does not answer"),
            elasticsearch=_elasticsearch_part(cfg),
            workers=WorkersPart(ok=False, detail="Redis is down"),
            parts=[],
        )
    index = status.index
    assert index is not None  # asked for above
    es_part = ElasticsearchPart(
        ok=index.reachable and index.cluster in ("green", "yellow"),
        status=index.cluster,
        index=cfg.index if index.alias_exists else None,
        detail="" if index.reachable else f"{cfg.elasticsearch_url}: {index.detail}",
    )
    stages = [p for p in status.parts if p.kind == "stage"]
    missing = [p.name for p in stages if p.presence != "running"]
    workers = WorkersPart(
        ok=not missing,
        count=len(status.workers),
        workers=status.workers,
        detail=f"no running worker for: {', '.join(missing)}" if missing else "",
    )
    return Health(
        ok=status.state == "ok",
        state=status.state,
        reasons=status.reasons,
        redis=Part(ok=True),
        elasticsearch=es_part,
        workers=workers,
        parts=status.parts,
    )


def _elasticsearch_part(cfg: Settings) -> ElasticsearchPart:
    try:
        cluster = str(
            quick(elasticsearch_for(cfg.elasticsearch_url, cfg), 5).cluster.health(timeout="5s")["status"]
        )
    except (TransportError, ApiError) as exc:
        log.warning("Elasticsearch health check failed: %r", exc)
        return ElasticsearchPart(ok=False, detail=f"{cfg.elasticsearch_url} {describe_failure(exc)}")
    return ElasticsearchPart(ok=cluster in ("green", "yellow"), status=cluster)
