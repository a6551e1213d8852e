"""The search page's login, export links and watch controls in a real browser (Debian's
headless Chromium) against a real API server on a real Elasticsearch.

A person logs in with the API token through the form (the browser keeps an HttpOnly,
SameSite=Strict cookie), the export links carry the page's search, and logging out ends the
session. A page of another site (``localhost`` is another site than ``127.0.0.1``; another
port on ``127.0.0.1`` another origin) that posts a form to Dateline changes nothing, even
while the person is logged in.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from services.api.app import create_app
from services.api.auth import SESSION_COOKIE
from shared.schemas import ArticleDocument, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.models import Watch, WatchSpec
from shared.watches.store import WatchStore
from tests.support.indices import drop_dateline_index
from tests.support.services import free_port
from tests.support.uvicorn_thread import serving

TOKEN = "browser-" + uuid.uuid4().hex


@dataclass
class Server:
    url: str
    cfg: Settings


@pytest.fixture(scope="module")
def server(es_url: str, redis_url: str) -> Iterator[Server]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    port = free_port()
    cfg = Settings(
        _env_file=None,
        elasticsearch_url=es_url,
        redis_url=redis_url,
        index=name,
        api_token=TOKEN,
        public_url=f"http://127.0.0.1:{port}",
        smtp_host="127.0.0.1",  # the form offers email (nothing is sent: no delivery runs here)
    )
    es = make_client(es_url)
    ensure_index(es, name, cfg)
    for number, (title, lang) in enumerate(
        [("Harbour strike spreads", "en"), ("Hafenstreik weitet sich aus", "de"), ("Harbour reopens", "en")]
    ):
        doc = ArticleDocument(
            id=document_id(f"controls/{number}.txt"),
            source_path=f"controls/{number}.txt",
            format="text",
            title=title,
            body=f"{title}. Dockers at the harbour stopped work on day {number}.",
            content_sha256=f"c{number}",
            language=lang,
            source="Wire",
            published_at=datetime(2024, 5, 1 + number, tzinfo=timezone.utc),
        )
        es.index(index=name, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=name)
    try:
        with serving(create_app(cfg), port):
            yield Server(f"http://127.0.0.1:{port}", cfg)
    finally:
        drop_dateline_index(es, name)


@dataclass
class Elsewhere:
    """Another site's page: a form that posts ``fields`` to ``target`` as soon as it loads."""

    url: str
    pages: dict[str, str]


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Elsewhere]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pages.get(urlsplit(self.path).path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Elsewhere(f"http://localhost:{httpd.server_address[1]}", pages)
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def attack_page(target: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return (
        f'<!doctype html><form id="f" method="post" action="{target}">{inputs}</form>'
        "<script>document.getElementById('f').submit()</script>"
    )


def log_in(page, server: Server, token: str = TOKEN, search: str = "/?q=harbour") -> None:
    page.goto(server.url + search)
    page.get_by_role("link", name="Log in", exact=True).click()
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()


def test_logging_in_and_out_on_the_page(server, tab, browser):
    page = tab.page
    log_in(page, server, token="not-the-token")
    expect(page.get_by_role("alert")).to_contain_text("That is not the API token")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/?q=harbour")  # back to the search
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    cookie = next(c for c in browser.cookies(server.url) if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert TOKEN not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script of the page reads it
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(server.url + "/")
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()
    assert [c for c in browser.cookies(server.url) if c["name"] == SESSION_COOKIE] == []


def test_export_links_carry_the_search(server, tab):
    page = tab.page
    page.goto(server.url + "/?q=harbour&lang=en&sort=date")
    links = page.get_by_role("group", name="Take these results away")
    expected = {
        "CSV": ("/export", [("format", "csv"), ("q", "harbour"), ("lang", "en"), ("sort", "date")]),
        "JSON Lines": ("/export", [("format", "jsonl"), ("q", "harbour"), ("lang", "en"), ("sort", "date")]),
        "Facets CSV": ("/export/facets.csv", [("q", "harbour"), ("lang", "en"), ("sort", "date")]),
        "Histogram CSV": ("/export/histogram.csv", [("q", "harbour"), ("lang", "en"), ("sort", "date")]),
    }
    for label, (path, pairs) in expected.items():
        href = links.get_by_role("link", name=label, exact=True).get_attribute("href") or ""
        assert (urlsplit(href).path, parse_qsl(urlsplit(href).query)) == (path, pairs), label


def watches(server: Server) -> list[Watch]:
    return WatchStore(make_client(server.cfg.elasticsearch_url), server.cfg.index, server.cfg).list()


def test_watch_this_search_from_the_page_and_remove_it(server, tab, browser):
    browser.clear_cookies()
    page = tab.page
    page.goto(server.url + "/?q=harbour&lang=en&sort=date")
    expect(page.get_by_role("button", name="Watch this search")).to_have_count(0)
    page.get_by_role("link", name="Log in to watch this search").click()
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/?q=harbour&lang=en&sort=date")

    page.get_by_text("Watch this search").click()
    form = page.locator("form.watch-form")
    expect(form).to_contain_text("harbour")
    expect(form).to_contain_text("Language: English")
    form.get_by_label("Name").fill("bad/name")
    form.get_by_role("button", name="Watch").click()
    # Refused in words, the form back with what was typed and the same search.
    expect(page.get_by_role("alert")).to_contain_text("The watch was not made")
    form = page.locator("form.watch-form")
    expect(form.get_by_label("Name")).to_have_value("bad/name")
    form.get_by_label("Name").fill("Harbour strikes")
    form.get_by_role("button", name="Watch").click()
    page.wait_for_url(server.url + "/watching?made=Harbour%20strikes")
    expect(page.get_by_role("status")).to_contain_text("Watching Harbour strikes")
    item = page.locator(".watch-item").filter(has_text="Harbour strikes")
    expect(item.get_by_role("link", name="Atom feed")).to_have_attribute(
        "href", f"{server.url}/watches/Harbour%20strikes/feed.atom"
    )
    [made] = watches(server)
    assert (made.name, made.query, made.lang, made.webhook) == ("Harbour strikes", "harbour", ["en"], None)
    # Making it again under the same name (any case) says so.
    page.goto(server.url + "/?q=harbour")
    page.get_by_text("Watch this search").click()
    page.locator("form.watch-form").get_by_label("Name").fill("harbour STRIKES")
    page.locator("form.watch-form").get_by_role("button", name="Watch").click()
    expect(page.get_by_role("alert")).to_contain_text("exists already")

    page.goto(server.url + "/watching")
    page.get_by_role("button", name="Remove the watch Harbour strikes").click()
    page.wait_for_url(server.url + "/watching?removed=Harbour%20strikes")
    assert watches(server) == []


def test_another_sites_page_cannot_make_a_watch(server, tab, browser, elsewhere):
    browser.clear_cookies()
    page = tab.page
    log_in(page, server)
    page.wait_for_url(server.url + "/?q=harbour")
    csrf = page.locator('form.watch-form input[name="csrf_token"]').get_attribute("value") or ""
    assert csrf
    fields = {"name": "Planted", "q": "harbour", "webhook": "https://attacker.example/hook"}
    # Another site (localhost is not 127.0.0.1): the Strict cookie is not sent, so no session.
    elsewhere.pages["/guess"] = attack_page(f"{server.url}/watch", {**fields, "csrf_token": "guessed"})
    page.goto(elsewhere.url + "/guess")
    page.wait_for_url(server.url + "/watch")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to make changes")
    # Another origin of the same site (another port on 127.0.0.1) gets the cookie, and even
    # with the session's own CSRF token (were it ever leaked) the browser's Origin gives it away.
    port = urlsplit(elsewhere.url).port
    elsewhere.pages["/leaked"] = attack_page(f"{server.url}/watch", {**fields, "csrf_token": csrf})
    page.goto(f"http://127.0.0.1:{port}/leaked")
    page.wait_for_url(server.url + "/watch")
    expect(page.get_by_role("heading", level=1)).to_have_text("Refused: sent from another site")
    assert watches(server) == []
    # The person's own session is untouched: the page still makes watches.
    page.goto(server.url + "/?q=harbour")
    page.get_by_text("Watch this search").click()
    page.locator("form.watch-form").get_by_label("Name").fill("Mine")
    page.locator("form.watch-form").get_by_role("button", name="Watch").click()
    page.wait_for_url(server.url + "/watching?made=Mine")
    assert [w.name for w in watches(server)] == ["Mine"]
    WatchStore(make_client(server.cfg.elasticsearch_url), server.cfg.index, server.cfg).remove("Mine")


def test_the_new_pages_are_accessible_narrow_and_keep_the_policy(server, tab, browser):
    """axe-core finds nothing on the login page, the search page with its watch form open and
    the watches page; no CSP violation (no inline script or style); no sideways scrolling on a
    360 px screen."""
    browser.clear_cookies()
    page = tab.page
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    axe = Axe()
    page.goto(server.url + "/login?next=/%3Fq%3Dharbour")
    assert axe.run(page).violations_count == 0, axe.run(page).generate_report()
    log_in(page, server)
    page.wait_for_url(server.url + "/?q=harbour")
    store = WatchStore(make_client(server.cfg.elasticsearch_url), server.cfg.index, server.cfg)
    store.add(WatchSpec(name="Dockers", query="dockers", email="desk@news.example", email_mode="daily"))
    try:
        for width in (1280, 360):
            page.set_viewport_size({"width": width, "height": 800})
            page.goto(server.url + "/?q=harbour&lang=en")
            page.get_by_text("Watch this search").click()
            expect(page.locator("form.watch-form")).to_be_visible()
            for path in (None, "/watching"):
                if path:
                    page.goto(server.url + path)
                    expect(page.get_by_role("button", name="Remove the watch Dockers")).to_be_visible()
                results = axe.run(page)
                assert results.violations_count == 0, f"{path} at {width}px:\n{results.generate_report()}"
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"{path or 'the search page'} is {overflow}px too wide at {width}px"
        assert page.locator("script:not([src])").count() == 0
        assert violations == []
    finally:
        store.remove("Dockers")
        page.set_viewport_size({"width": 1280, "height": 900})
