"""A real stack with the demo archive and a real headless Chromium, shared by the browser
tests of a module: starting both costs a minute or two, the tests only read."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.conftest import TEST_DATA_DIR
from tests.support.browser import Requests, chromium, recording_page
from tests.support.demo import Demo, run_demo
from tests.support.stack import Stack

_numbers = itertools.count()


@dataclass
class Site:
    stack: Stack
    demo: Demo
    url: str


@pytest.fixture(scope="module")
def site(
    redis_url: str, es_url: str, ner_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("browser")
    stack = Stack(
        redis_base_url=redis_url,
        es_url=es_url,
        log_dir=folder / "logs",
        run_dir=TEST_DATA_DIR / f"browser-{next(_numbers)}",
        ner_model=str(ner_model_path),
        inbox=folder / "inbox",
    )
    try:
        demo, url, _ = run_demo(stack)
        yield Site(stack, demo, url)
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


@dataclass
class Tab:
    page: Page
    requests: Requests


@pytest.fixture
def tab(browser: BrowserContext) -> Iterator[Tab]:
    """A page whose every request is recorded: none may leave this machine."""
    page, requests = recording_page(browser)
    yield Tab(page, requests)
    page.close()
    assert requests.leaving_loopback() == [], "the page asked for something outside this machine"
