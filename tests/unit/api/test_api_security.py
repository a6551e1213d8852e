"""The API's own guards, through TestClient against the app (our code, no integrated system):
the trusted-host check (a foreign Host never reaches Elasticsearch), the security headers on
every response, HEAD wherever GET works, and /docs without inline script."""

from __future__ import annotations

import re
import select
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
from tests.support.uvicorn_thread import serving

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


TOKEN = "a-test-token-of-some-length"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[int, list[int], Settings]]:
    """The API under a real uvicorn on loopback, wrapped to count the body bytes the server
    hands the app: (port, [bytes delivered], settings)."""
    cfg = Settings(
        _env_file=None,
        elasticsearch_url=settings.elasticsearch_url,
        redis_url=settings.redis_url,
        api_token=TOKEN,
    )
    app = create_app(cfg)
    delivered = [0]

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                delivered[0] += len(message.get("body", b""))
            return message

        await app(scope, counted, send)

    port = _closed_port()
    with serving(counting, port, lifespan="off"):
        yield port, delivered, cfg


def chunked_post(port: int, path: str, headers: str, total: int, head: bytes = b"") -> tuple[int, str]:
    """POST ``head`` and then ``total`` bytes in chunked transfer (no Content-Length), as a
    streaming client does, until the server answers: (status, the response's head)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    request = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n{headers}\r\n"
    pending = request.encode() + b"%x\r\n%s\r\n" % (len(head), head) if head else request.encode()
    left, piece, response = total, b"x" * 65536, b""
    sock.setblocking(False)
    try:
        while b"\r\n\r\n" not in response:
            if not pending and left:
                data = piece[: min(len(piece), left)]
                left -= len(data)
                pending = b"%x\r\n%s\r\n" % (len(data), data) + (b"" if left else b"0\r\n\r\n")
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 30)
            assert readable or writable, "the server neither read nor answered for 30 s"
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                response += data
            elif writable:
                try:
                    pending = pending[sock.send(pending) :]
                except (BrokenPipeError, ConnectionResetError):
                    pending, left = b"", 0
    finally:
        sock.close()
    head_text = response.split(b"\r\n\r\n")[0].decode("latin-1")
    return int(head_text.split(" ", 2)[1]), head_text


def test_a_chunked_body_past_the_limit_is_refused_as_it_arrives(served):
    """Without a Content-Length nothing tells the size up front: the server must stop at the
    limit, not spool 50 times as much first (a watchlist upload, JSON, the login form that
    anyone may post)."""
    from services.api.security import request_body_limit

    port, delivered, cfg = served
    limit = request_body_limit(cfg)
    # asyncio hands the app what one read gave (at most 256 KiB): the bound is one read more.
    bound = limit + 256 * 1024
    form = b"--xyz\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\n"
    for path, headers, head in (
        ("/watchlists", f"{AUTH}Content-Type: multipart/form-data; boundary=xyz\r\n", form),
        ("/watches", f"{AUTH}Content-Type: application/json\r\n", b""),
        ("/login", "Content-Type: application/x-www-form-urlencoded\r\n", b"token="),
    ):
        delivered[0] = 0
        status, response = chunked_post(port, path, headers, 50 * limit, head)
        assert status == 413, (path, response)
        assert delivered[0] <= bound, (path, delivered[0], limit)


def test_a_declared_length_past_the_limit_is_refused_and_a_small_body_is_read(served):
    from services.api.security import request_body_limit

    port, delivered, cfg = served
    client = TestClient(create_app(cfg), base_url=LOCAL)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    limit = request_body_limit(cfg)
    declared = client.post("/watches", content=b"{" + b" " * limit + b"}", headers=auth)
    assert declared.status_code == 413 and "DATELINE_WATCHLIST_MAX_LINES" in declared.json()["detail"]
    # A page says it in HTML.
    page = client.post(
        "/login",
        content=b"token=" + b"x" * limit,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "Too much sent" in page.text
    # Within the limit nothing changes: the body is read and judged by the route.
    small = client.post(
        "/watches", content=b"{not json", headers={**auth, "content-type": "application/json"}
    )
    assert small.status_code == 422, small.text


def test_the_limit_follows_the_watchlist_setting():
    from services.api.security import FORM_OVERHEAD, JSON_BODY_BYTES, request_body_limit

    assert request_body_limit(Settings(_env_file=None, watchlist_max_lines=1)) == JSON_BODY_BYTES
    big = Settings(_env_file=None, watchlist_max_lines=100_000)
    assert request_body_limit(big) > 100_000 * 1000 > JSON_BODY_BYTES
    assert request_body_limit(big) - FORM_OVERHEAD == big.watchlist_max_lines * 1026
