"""The API's own guards, through TestClient against the app (our code, no integrated system):
the trusted-host check (a foreign Host never reaches Elasticsearch), the security headers on
every response, HEAD wherever GET works, and /docs without inline script."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.security import allowed_hosts
from shared.settings import Settings

LOCAL = "http://127.0.0.1"


@dataclass
class Listener:
    """A TCP port that only counts who connects: where Elasticsearch and Redis would be."""

    sock: socket.socket
    connections: list[tuple[str, int]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.connections.append(peer)
            conn.close()


@pytest.fixture
def backend() -> Iterator[Listener]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    listener = Listener(sock)
    thread = threading.Thread(target=listener.serve, daemon=True)
    thread.start()
    yield listener
    sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
    sock.close()
    thread.join(timeout=5)


@pytest.fixture
def settings() -> Settings:
    """Nothing listens for Elasticsearch and Redis: routes that need them answer 503 at once."""
    return Settings(
        _env_file=None,
        elasticsearch_url=f"http://127.0.0.1:{_closed_port()}",
        redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_foreign_host_is_refused_before_anything_reaches_elasticsearch(backend):
    url = f"127.0.0.1:{backend.port}"
    settings = Settings(_env_file=None, elasticsearch_url=f"http://{url}", redis_url=f"redis://{url}/0")
    client = TestClient(create_app(settings), base_url=LOCAL)
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "[::2]:8000", "bad host"):
        for path in ("/", "/search?q=flood", f"/article/{'a' * 32}", "/health", "/status", "/docs"):
            response = client.get(path, headers={"Host": host})
            assert response.status_code == 400, (host, path, response.status_code)
            assert response.headers["x-content-type-options"] == "nosniff"
    assert backend.connections == [], "a refused request reached Elasticsearch or Redis"
    # The names the API answers to by default, with a port or without.
    for host in ("127.0.0.1:8000", "localhost", "LOCALHOST:8000", "[::1]:8000"):
        assert client.get("/static/app.css", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_come_from_the_settings_and_the_listening_address():
    base = Settings(_env_file=None)
    assert allowed_hosts(base) == ["127.0.0.1", "localhost", "::1", "[::1]"]
    extra = Settings(_env_file=None, api_allowed_hosts="archive.example, Search.Example", api_host="10.0.0.5")
    assert allowed_hosts(extra) == ["archive.example", "search.example", "10.0.0.5"]
    assert allowed_hosts(Settings(_env_file=None, api_host="0.0.0.0")) == [
        "127.0.0.1",
        "localhost",
        "::1",
        "[::1]",
    ]
    anyone = Settings(_env_file=None, api_allowed_hosts="*")
    assert allowed_hosts(anyone) == ["*"]


def test_any_host_when_the_setting_says_so(backend):
    cfg = Settings(
        _env_file=None, api_allowed_hosts="*", elasticsearch_url=f"http://127.0.0.1:{backend.port}"
    )
    assert (
        TestClient(create_app(cfg)).get("/static/app.css", headers={"Host": "evil.example"}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/docs",
        "/pipeline",
        "/static/app.css",
        "/openapi.json",
        "/nowhere",
        f"/article/{'a' * 32}",
        "/article/not-an-id",
        "/search?size=0",
    ],
)
def test_every_response_has_the_security_headers(settings, path):
    response = TestClient(create_app(settings), base_url=LOCAL).get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


def test_no_page_has_inline_script_or_style(settings):
    client = TestClient(create_app(settings), base_url=LOCAL)
    for path in ("/", "/docs", "/pipeline", "/article/not-an-id"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html, re.IGNORECASE), path
    docs = client.get("/docs").text
    assert '<script src="/static/docs.js' in docs and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs
    assert client.get("/static/docs.js").status_code == 200


def _example_path(route: APIRoute) -> str:
    return re.sub(r"\{[^}]+\}", "a" * 32, route.path)


def _get_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every GET route, including those of included routers (FastAPI keeps them apart)."""
    for route in routes:
        if isinstance(route, APIRoute) and "GET" in route.methods:
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from _get_routes(router.routes)


def test_head_answers_wherever_get_does_with_the_same_status_and_no_body(settings):
    app = create_app(settings)
    client = TestClient(app, base_url=LOCAL)
    paths = [_example_path(r) for r in _get_routes(app.routes)]
    paths += ["/openapi.json", "/static/app.css", "/nowhere", "/article/not-an-id"]
    assert {"/", "/search", "/health", "/docs", "/pipeline"} <= set(paths)
    for path in paths:
        got = client.get(path, follow_redirects=False)
        head = client.head(path, follow_redirects=False)
        assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
    assert client.head("/").status_code == 503  # was 405; 503 as GET's: Elasticsearch is down here
    assert client.head("/docs").status_code == 200
    assert client.post("/").status_code == 405  # only HEAD is added
