"""The pages in a real browser (Debian's headless Chromium through Playwright) against a real
stack - workers, indexer, ingest and the API as processes - fed the demo archive: searching,
facets and chips, copies of a duplicate, the article view's marks, the pipeline page, /docs,
keyboard use and accessibility, narrow screens and error states. No request leaves
127.0.0.1 (checked after every test by the ``tab`` fixture)."""

from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import quote, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.support.demo import BLANK, BROKEN, FEED, FEED_SOURCE, PUBLISHER
from tests.support.services import free_port


def _api(site, path: str) -> dict:
    with urllib.request.urlopen(site.url + path, timeout=30) as response:
        return json.load(response)


def _count(page) -> str:
    return page.locator("#results-title").inner_text()


def test_searching_shows_hits_facets_and_the_date_histogram(site, tab):
    page = tab.page
    page.goto(site.url + "/")
    page.get_by_label("Search the archive").fill("Taliban")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=Taliban"))
    api = _api(site, "/search?q=Taliban")
    expect(page.locator("#results-title")).to_contain_text(f"{api['total']} articles")
    hits = page.locator("li.hit")
    expect(hits).to_have_count(len(api["hits"]))
    first = hits.first
    assert first.locator(".hit-title a").inner_text().strip() == api["hits"][0]["title"]
    assert first.locator("mark").count() > 0, "the query is highlighted"
    assert first.locator(".entity-chips a").count() > 0
    # Facets count what the hits show: every Taliban article is English, counted once.
    english = page.get_by_role("link", name=re.compile(r"^English, "))
    expect(english.locator(".count")).to_have_text(str(api["total"]))
    assert page.locator(".histogram .bars li").count() >= 1
    # Sorting by date puts the dated article first.
    page.get_by_label("Sort by").select_option("date")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"sort=date"))
    assert page.locator("li.hit").first.locator("time").count() == 1


def test_a_facet_filters_a_chip_shows_it_and_removes_it(site, tab):
    page = tab.page
    page.goto(site.url + "/?q=*")
    everything = _api(site, "/search")["total"]
    expect(page.locator("#results-title")).to_contain_text(f"{everything} articles")
    page.get_by_role("link", name=re.compile(f"^{FEED_SOURCE}, ")).click()
    page.wait_for_url(re.compile(f"source={FEED_SOURCE}"))
    filtered = _api(site, f"/search?source={FEED_SOURCE}")["total"]
    assert 0 < filtered < everything
    expect(page.locator("#results-title")).to_contain_text(f"{filtered} article")
    assert all(text == FEED_SOURCE for text in page.locator("li.hit .source").all_inner_texts())
    chip = page.get_by_role("link", name=f"Remove filter Source: {FEED_SOURCE}")
    expect(chip).to_be_visible()
    chip.click()
    expect(page.locator("#results-title")).to_contain_text(f"{everything} articles")
    expect(page.locator(".chips")).to_have_count(0)

    # A histogram bar keeps only its period (a since/until chip appears).
    page.locator(".histogram .bars a").last.click()
    expect(page.locator(".chip").first).to_contain_text("From")


def test_a_duplicate_is_one_story_with_its_versions_and_counts_once_in_facets(site, tab):
    page = tab.page
    page.goto(site.url + "/?q=Khalilzad")
    expect(page.locator("#results-title")).to_contain_text("1 article")
    copies = page.locator("details.copies")
    expect(copies.locator("summary")).to_contain_text("2 versions from 2 sources")
    copies.locator("summary").click()
    expect(copies.get_by_role("link", name="Wire/taliban-talks.txt")).to_be_visible()
    # Two documents, one text: each facet counts it once, as the hits do.
    for name in ("English", PUBLISHER, "Wire"):
        expect(page.get_by_role("link", name=re.compile(f"^{name}, ")).locator(".count")).to_have_text("1")
    every = _api(site, "/search?q=Khalilzad&collapse=false")
    assert every["total"] == 2 and every["facets"]["language"] == {"en": 2}


def test_the_article_view_marks_mentions_and_summary_at_their_offsets(site, tab):
    page = tab.page
    page.goto(site.url + "/?q=Khalilzad")
    page.locator(".hit-title a").first.click()
    page.wait_for_url(re.compile(r"/article/[0-9a-f]{32}\?back="))
    doc_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    doc = _api(site, f"/articles/{doc_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(doc["title"])
    # The rendered text is the body exactly; each mark sits at its mention's offsets.
    found = page.evaluate("""() => {
        const body = document.getElementById('body-text');
        const offset = (node) => { const r = document.createRange(); r.setStart(body, 0); r.setEndBefore(node);
                                   return r.toString().length; };
        return {text: body.textContent,
                marks: [...body.querySelectorAll('mark.ent')].map(m => ({start: offset(m), text: m.textContent,
                        type: m.dataset.type, dataStart: +m.dataset.start})),
                summary: [...body.querySelectorAll('.summary-mark')].map(s => s.textContent).join('')};
    }""")
    assert found["text"] == doc["body"]
    mentions = {(m["start"], m["text"], m["type"]) for m in doc["mentions"]}
    marks = {(m["start"], m["text"], m["type"]) for m in found["marks"]}
    assert marks and marks == mentions
    assert all(m["start"] == m["dataStart"] for m in found["marks"])
    assert any(m["text"] == "Zalmay Khalilzad" and m["type"] == "person" for m in found["marks"])
    summary_text = "".join(doc["summary"].split())
    assert "".join(found["summary"].split()) == summary_text, "the summary's sentences are marked in the body"
    # Provenance per stage and the original file.
    rows = page.locator("table.provenance tbody tr")
    expect(rows).to_have_count(3)
    for stage in ("language", "summary", "entities"):
        expect(rows.filter(has_text=stage).locator(".status")).to_have_text("ok")
    expect(page.locator("code.path").first).to_contain_text(str(site.stack.inbox / doc["source_path"]))


def test_the_pipeline_page_shows_counts_failures_workers_and_refreshes(site, tab):
    page = tab.page
    page.goto(site.url + "/pipeline")
    status = _api(site, "/status")
    expect(page.locator("#state-title")).to_have_text(
        "Everything is running" if status["state"] == "ok" else "Dateline is degraded"
    )
    expect(page.locator('[data-count="indexed"]')).to_have_text(str(site.demo.indexed_files))
    expect(page.locator('[data-count="failed"]')).to_have_text(str(len(site.demo.failed_files)))
    expect(page.locator('[data-count="documents"]')).to_have_text(str(site.demo.documents))
    failures = page.locator("#failures-title").locator("xpath=..")
    for path in (BROKEN, BLANK, FEED):
        expect(failures.get_by_text(path, exact=True)).to_be_visible()
    expect(failures).to_contain_text("blank")
    expect(failures).to_contain_text("line 3")
    expect(failures.get_by_text("What to do:").first).to_be_visible()
    workers = page.locator("#workers-title").locator("xpath=..")
    for stage in ("language", "summary", "entities"):
        expect(workers.get_by_role("cell", name=stage, exact=True)).to_be_visible()
    expect(page.locator(".rate-line")).to_contain_text("documents per minute")
    # It refreshes itself (and says when).
    expect(page.locator("#updated-at")).to_contain_text("updated", timeout=30_000)
    page.get_by_role("button", name="Pause updates").click()
    expect(page.get_by_role("button", name="Resume updates")).to_have_attribute("aria-pressed", "true")


def test_the_api_docs_render_from_local_files(site, tab):
    page = tab.page
    page.goto(site.url + "/docs")
    expect(page.locator(".opblock-summary-path").filter(has_text="/search").first).to_be_visible(
        timeout=30_000
    )
    assert any(
        urlsplit(url).path == "/static/vendor/swagger-ui/swagger-ui-bundle.js" for url in tab.requests.urls
    )


def test_keyboard_labels_and_accessibility(site, tab):
    page = tab.page
    page.goto(site.url + f"/?q=Taliban&source={quote(PUBLISHER)}")
    # The first Tab reaches the skip link; Enter moves to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    # Every form control has a label.
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(el => !el.labels.length && !el.getAttribute('aria-label')).map(el => el.outerHTML)""")
    assert unlabelled == []
    # A facet is reached and used with the keyboard alone.
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label') || ''").startswith("English, "):
            break
    else:
        pytest.fail("Tab never reached the English facet")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"lang=en"))

    axe = Axe()
    for path in ("/?q=Taliban", "/?q=zzzz-nothing", "/pipeline", _first_article(site), "/?since=soon"):
        page.goto(site.url + path)
        results = axe.run(page)
        assert results.violations_count == 0, f"{path}:\n{results.generate_report()}"


def _first_article(site) -> str:
    return "/article/" + _api(site, "/search?q=Khalilzad")["hits"][0]["id"]


def test_narrow_screens_need_no_sideways_scrolling(site, tab):
    page = tab.page
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/?q=Pakistan", _first_article(site), "/pipeline"):
        page.goto(site.url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow}px wider than a 360px screen"


def test_errors_are_shown_in_words(site, tab):
    page = tab.page
    bad = page.goto(site.url + "/?since=soon")
    assert bad is not None and bad.status == 422
    expect(page.get_by_role("alert")).to_contain_text("This search cannot be run")
    expect(page.get_by_role("alert")).to_contain_text("not understood")
    none = page.goto(site.url + "/?q=zzzzqqqxxx")
    assert none is not None and none.status == 200
    expect(page.locator("#results-title")).to_have_text("No articles found for “zzzzqqqxxx”")
    expect(page.get_by_text("Nothing matches this search")).to_be_visible()
    missing = page.goto(site.url + "/article/" + "0" * 32)
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("alert")).to_contain_text("There is no article with id")

    # The API with Elasticsearch away: the page says so, in words, with what to do.
    port = free_port()
    closed = f"http://127.0.0.1:{free_port()}"
    broken = site.stack.start(
        "api-no-es", "api", env={"DATELINE_API_PORT": str(port), "DATELINE_ELASTICSEARCH_URL": closed}
    )
    try:
        from tests.support.processes import wait_until

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.css", timeout=5).close()
                return True
            except OSError:
                return False

        wait_until(answers, timeout=120, what="the second API answering", processes=[broken])
        down = page.goto(f"http://127.0.0.1:{port}/?q=Taliban")
        assert down is not None and down.status == 503
        expect(page.get_by_role("alert")).to_contain_text("Search is unavailable")
        expect(page.get_by_role("alert")).to_contain_text(closed)
        pipeline = page.goto(f"http://127.0.0.1:{port}/pipeline")
        assert pipeline is not None and pipeline.status == 200
        expect(page.locator("#state-title")).to_have_text("Dateline is degraded")
        expect(page.locator(".state")).to_contain_text(f"Elasticsearch at {closed} does not answer")
        for text in (page.content(),):
            assert "Traceback" not in text
    finally:
        broken.stop()
