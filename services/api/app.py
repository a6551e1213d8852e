"""The HTTP API: search, single articles, health and status (FastAPI; OpenAPI at /docs),
and the pages for people (``web.py``: search, article view, pipeline, docs).

``create_app`` puts together one router per area (``routers/``, ``web.py``), the
middleware (``security.py``) and one exception handler per error type (``errors.py``).
Every read goes through the Dateline alias from settings; no endpoint takes an index name
or a path, so the API cannot be turned into a general Elasticsearch proxy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from services.api import auth, errors, web
from services.api.deps import redis_for
from services.api.routers import articles, export, health, search, watches
from services.api.security import BodyLimit, HeadAsGet, SecurityHeaders, TrustedHosts
from shared.heartbeat import ApiDetails, HeartbeatWriter
from shared.settings import Settings, get_settings


def _lifespan(current: Callable[[], Settings]) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        cfg = current()
        heartbeat = HeartbeatWriter(
            lambda: redis_for(cfg.redis_url),
            "api",
            cfg.heartbeat_seconds,
            lambda: ApiDetails(listen=f"{cfg.api_host}:{cfg.api_port}"),
        )
        heartbeat.start()
        try:
            yield
        finally:
            heartbeat.stop()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API; ``settings`` default to ``get_settings()``, read at each request."""

    def current() -> Settings:
        return settings or get_settings()

    app = FastAPI(
        title="Dateline",
        description="Search an enriched archive of news articles. The search page is at /, "
        "the pipeline's state at /pipeline.",
        version="1",
        lifespan=_lifespan(current),
        # /docs is served by web.py from local files (the default loads Swagger UI from a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = current  # read by the routes' SettingsDep (deps.py)
    errors.install(app)
    auth.install(app, current)  # innermost: the session is there for routes and error pages
    # Outermost last: every response (a refused host's 400 included) gets the headers.
    app.add_middleware(BodyLimit, settings=current)
    app.add_middleware(HeadAsGet)
    app.add_middleware(TrustedHosts, settings=current)
    app.add_middleware(SecurityHeaders)
    for router in (search.router, articles.router, health.router, watches.router, export.router):
        app.include_router(router)
    web.install(app)
    return app


app = create_app()
