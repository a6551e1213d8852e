"""Pages that cannot be turned against their readers, in a real browser (Debian's headless
Chromium): an article whose url is ``javascript:`` and whose title is markup is indexed in a
real Elasticsearch, and the search page, the article page, the pipeline page and /docs are
opened from a real API server. No dialog fires, no link runs script, every page carries the
security headers, and the browser reports no Content-Security-Policy violation (so no page
needs inline script or style, /docs included)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from services.api.app import create_app
from shared.schemas import ArticleDocument, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from tests.support.indices import drop_dateline_index
from tests.support.services import free_port
from tests.support.uvicorn_thread import serving

HOSTILE_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)> Zeppelin over the harbour"
HOSTILE_URL = "javascript:alert(document.domain)"
HEADERS = {"content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"}


@dataclass
class Server:
    url: str
    hostile: str
    plain: str


@pytest.fixture(scope="module")
def server(es_url: str, redis_url: str) -> Iterator[Server]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(_env_file=None, elasticsearch_url=es_url, redis_url=redis_url, index=name)
    es = make_client(es_url)
    ensure_index(es, name, cfg)
    docs = [
        ArticleDocument(
            id=document_id("sec/hostile.json"),
            source_path="sec/hostile.json",
            format="json",
            title=HOSTILE_TITLE,
            body="A zeppelin flew over the harbour. <script>alert(3)</script>",
            summary="<img src=x onerror=alert(4)> zeppelin",
            url=HOSTILE_URL,
            content_sha256="h1",
            language="en",
            source="<b>Feed</b>",
            published_at=datetime(2024, 5, 1, tzinfo=timezone.utc),
        ),
        ArticleDocument(
            id=document_id("sec/plain.txt"),
            source_path="sec/plain.txt",
            format="text",
            title="Harbour strike",
            body="Dockers at the harbour stopped work as a zeppelin passed.",
            url="https://example.com/strike",
            content_sha256="p1",
            language="en",
            source="Wire",
            published_at=datetime(2024, 7, 1, tzinfo=timezone.utc),
        ),
    ]
    for doc in docs:
        es.index(index=name, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=name)
    port = free_port()
    try:
        with serving(create_app(cfg), port):
            yield Server(f"http://127.0.0.1:{port}", docs[0].id, docs[1].id)
    finally:
        drop_dateline_index(es, name)


def test_hostile_content_never_runs_and_no_page_breaks_its_policy(server, tab):
    page = tab.page
    dialogs: list[str] = []
    violations: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text
            else None
        ),
    )
    pages = [
        "/",
        "/?q=zeppelin",
        "/?q=harbour&sort=date",
        f"/article/{server.hostile}",
        f"/article/{server.plain}?back=/%3Fq%3Dzeppelin",
        "/pipeline",
        "/docs",
    ]
    for path in pages:
        response = page.goto(server.url + path)
        assert response is not None and response.status in (200, 503), (path, response and response.status)
        headers = response.headers
        assert HEADERS <= set(headers), (path, headers)
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        if path == "/docs":
            expect(page.locator(".opblock-summary-path").filter(has_text="/search").first).to_be_visible(
                timeout=30_000
            )
        page.wait_for_load_state("networkidle")
        links = page.evaluate("""() => [...document.querySelectorAll('[href], [src], [action], [formaction]')]
            .map(el => el.getAttribute('href') || el.getAttribute('src') || el.getAttribute('action')
                       || el.getAttribute('formaction'))""")
        assert not [
            link for link in links if link and link.strip().lower().startswith(("javascript:", "data:text"))
        ], (path, links)
        assert page.locator("script:not([src])").count() == 0, path
    assert dialogs == [], dialogs
    assert violations == [], violations

    # The hostile article: its title shown as text, no link to its url, the back link to the search.
    page.goto(server.url + f"/article/{server.hostile}?back=/%3Fq%3Dzeppelin")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE)
    expect(page.get_by_role("link", name="original page")).to_have_count(0)
    expect(page.get_by_role("link", name="‹ Back to the search")).to_have_attribute("href", "/?q=zeppelin")
    page.goto(server.url + f"/article/{server.plain}")
    expect(page.get_by_role("link", name="original page")).to_have_attribute(
        "href", "https://example.com/strike"
    )
    # The search page's hits: the hostile title is text, and each link carries the way back.
    page.goto(server.url + "/?q=zeppelin")
    hit = page.locator(".hit-title a").filter(has_text="Zeppelin over the harbour")
    expect(hit).to_contain_text("<script>alert(1)</script>")
    hit.click()
    page.wait_for_url(re.compile(rf"/article/{server.hostile}\?back="))
    page.get_by_role("link", name="‹ Back to the search").click()
    page.wait_for_url(server.url + "/?q=zeppelin")
    assert dialogs == [] and violations == [], (dialogs, violations)


def test_no_page_can_be_framed(server, tab):
    """frame-ancestors 'none' and X-Frame-Options: another page cannot frame ours (clickjacking)."""
    page = tab.page
    page.set_content(f'<iframe id="f" src="{server.url}/?q=zeppelin"></iframe>', wait_until="load")
    framed = page.frame_locator("#f")
    assert framed.locator("form.search-form").count() == 0
    assert framed.locator("li.hit").count() == 0
