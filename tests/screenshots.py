"""`make screenshots`: the README's pictures of the pages, taken from a real stack.

Starts Redis, Elasticsearch and every Dateline program on free loopback ports (under
.dateline/screenshots), feeds them the demo archive (tests/support/demo.py), and saves PNGs
of the search page, a facet applied, an article, the pipeline page, a narrow screen, the
API docs, a story page (the demo plus two other outlets' versions of one seed), and (logged
in with the stack's API token) the search page's export and watch controls and the watches
page into docs/screenshots/. Everything is stopped afterwards.

Usage: python -m tests.screenshots [--out DIR] [--keep]   (--keep: leave the stack running
and print its URL, to look around; stop it with Ctrl-C)
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.support.browser import chromium, recording_page  # noqa: E402
from tests.support.demo import run_demo  # noqa: E402
from tests.support.paths import MODEL_CACHE, REPO_DIR  # noqa: E402
from tests.support.services import BackingServices, free_port  # noqa: E402
from tests.support.stack import Stack  # noqa: E402

DATA = REPO_DIR / ".dateline" / "screenshots"
OUT = REPO_DIR / "docs" / "screenshots"
PERSON = "Zalmay Khalilzad"


def take(url: str, out: Path, token: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with chromium() as browser:
        page, requests = recording_page(browser, width=1280, height=860)

        def shot(name: str, *, full: bool = False) -> None:
            page.wait_for_load_state("networkidle")
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=full)
            shots.append(path)

        page.goto(f"{url}/?q=Taliban")  # once to warm Elasticsearch's caches: the page shows its time
        page.goto(f"{url}/?q=Taliban")
        shot("search")
        # Logged in with the API token: the export links and "Watch this search" filled in,
        # then the watches page with the watch it made (feed link, remove button).
        page.goto(f"{url}/?q=Taliban")
        page.get_by_role("link", name="Log in to watch this search").click()
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/\?q=Taliban$"))
        page.get_by_text("Watch this search").click()
        form = page.locator("form.watch-form")
        form.get_by_label("Name").fill("Taliban talks")
        form.get_by_label("Email").fill("desk@newsroom.example")
        form.get_by_label("How often").select_option("daily")
        form.get_by_label("Name").focus()
        shot("search-watch")
        form.get_by_role("button", name="Watch").click()
        page.wait_for_url(re.compile(r"/watching\?made="))
        shot("watches")
        page.get_by_role("button", name="Log out").click()  # the other pictures: as a visitor
        # A facet value clicked (a chip shows it), and a hit that stands for two copies.
        page.goto(f"{url}/?q=Khalilzad")
        page.get_by_role("link", name=re.compile(f"^{PERSON}, ")).click()
        page.locator("details.copies summary").first.click()
        shot("search-filtered")
        page.goto(f"{url}/?q=Taliban")
        page.locator(".hit-title a").first.click()
        page.wait_for_selector(".body-text")
        shot("article", full=True)
        page.goto(f"{url}/pipeline")
        shot("pipeline", full=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{url}/?q=Pakistan")
        shot("search-narrow")
        page.set_viewport_size({"width": 1280, "height": 860})
        page.goto(f"{url}/docs")
        page.wait_for_selector(".opblock")
        shot("docs")
        # A story: the seed and other outlets' edited versions (story_versions), from its hit.
        page.goto(f"{url}/?q=Waziristan")
        page.locator("details.copies summary").first.click()
        page.get_by_role("link", name="The story: every version and what each changes").click()
        page.wait_for_selector(".story-count")
        for summary in page.locator("details.diff > summary").all():
            summary.click()  # what each version adds and drops, open
        shot("story", full=True)
        leaving = requests.leaving_loopback()
        if leaving:
            raise SystemExit(f"the pages asked for something outside this machine: {leaving}")
    return shots


def story_versions(stack: Stack, documents: int) -> None:
    """Two other outlets' versions of the Reuters seed, edited as syndication edits (a new
    headline, a byline and agency prefix, a paragraph of its own, a sentence rewritten; a
    site's boilerplate appended), so the story page has versions that differ; waits until
    they are indexed."""
    import random

    from services.worker.story_evaluation import _body, added_paragraph, agency_prefix, boilerplate, rewritten
    from tests.support.demo import SEED_FILES
    from tests.support.processes import wait_until

    rng = random.Random(3)
    body = _body(SEED_FILES[1].read_text(encoding="utf-8"))
    versions = {
        ("Dawn", "Pakistani Taliban in exploratory talks with government"): rewritten(
            added_paragraph(agency_prefix(body, rng), rng), rng
        ),
        ("Daily Star", "Taliban and Islamabad hold peace talks"): boilerplate(body, rng),
    }
    for (source, title), text in versions.items():
        path = stack.inbox / source / "pakistani-taliban-talks.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ntitle: {title}\nsource: {source}\n---\n\n{text}\n", encoding="utf-8")
    wait_until(
        lambda: stack.count() == documents + len(versions),
        timeout=600,
        every=1,
        what="the story versions indexed",
    )


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--keep", action="store_true", help="keep the stack running afterwards")
    args = parser.parse_args()

    from tests.support.ner_model import train_tiny_model

    # SIGTERM (and SIGINT where a background shell ignores it) stops everything as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    shutil.rmtree(DATA, ignore_errors=True)
    services = BackingServices(DATA, free_port(), free_port())
    stack: Stack | None = None
    try:
        print("[screenshots] starting Redis and Elasticsearch", flush=True)
        services.start()
        model = train_tiny_model(MODEL_CACHE)
        # Workers load model files only from the model folder (they are pickles), as in
        # tests/conftest.py: without this the NER stage refuses the tiny model and the pages
        # show no people, organisations or places (and the facet picture cannot be taken).
        os.environ["DATELINE_MODEL_DIR"] = str(MODEL_CACHE)
        # The page's login takes this token (the stack's API reads DATELINE_API_TOKEN).
        token = secrets.token_urlsafe(24)
        stack = Stack(
            # An SMTP host so that the watch form offers email (nothing is sent: the
            # screenshots' stack runs no delivery).
            extra_env={"DATELINE_API_TOKEN": token, "DATELINE_SMTP_HOST": "127.0.0.1"},
            redis_base_url=services.redis_url,
            es_url=services.es_url,
            log_dir=DATA / "logs",
            run_dir=DATA / "stack",
            ner_model=str(model),
            inbox=DATA / "inbox",
        )
        print("[screenshots] starting the pipeline and feeding it the demo archive", flush=True)
        demo, url, _ = run_demo(stack)
        story_versions(stack, demo.documents)
        print(f"[screenshots] {demo.documents} documents indexed; taking screenshots of {url}", flush=True)
        for path in take(url, args.out, token):
            print(
                f"[screenshots] wrote {path.relative_to(REPO_DIR) if path.is_relative_to(REPO_DIR) else path}"
            )
        if args.keep:
            print(f"[screenshots] the stack runs at {url}; Ctrl-C stops it", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if stack is not None:
            stack.stop()
        services.shutdown()


if __name__ == "__main__":
    main()
