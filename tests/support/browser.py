"""Headless Chromium from Debian, driven by Playwright for Python, for the browser tests and
`make screenshots`.

Playwright cannot download its own browser build here, so it launches the system's
``chromium`` (installed by ``deploy/local/chromium.sh`` when missing, as ``make test``
installs Redis and Elasticsearch). Every request the page makes is recorded, so a test can
prove that nothing left this machine.
"""

from __future__ import annotations

import fcntl
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.support.paths import REPO_DIR, TEST_DATA

# Flags for a sandboxed, offline, quiet browser: no GPU, no QUIC, no background calls home.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def chromium_path() -> str:
    """Debian's Chromium, installed first when missing (by one test process at a time:
    two apt-get runs side by side would fight over dpkg's lock)."""
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    with open(TEST_DATA / ".chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            ["bash", str(REPO_DIR / "deploy" / "local" / "chromium.sh"), "install"],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    if result.returncode != 0:
        raise RuntimeError(f"could not install Chromium: {result.stderr.strip()}")
    facts = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return facts["CHROMIUM"]


@dataclass
class Requests:
    """Every URL the browser asked for, in order."""

    urls: list[str] = field(default_factory=list)

    def leaving_loopback(self) -> list[str]:
        return [
            url
            for url in self.urls
            if urlparse(url).scheme not in ("data", "blob", "about")
            and urlparse(url).hostname not in LOOPBACK
        ]


@contextmanager
def chromium(executable: str | None = None) -> Iterator[BrowserContext]:
    """A fresh headless Chromium with its own empty, throw-away profile."""
    with tempfile.TemporaryDirectory(prefix="dateline-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            Path(profile),
            executable_path=executable or chromium_path(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
            timezone_id="UTC",
        )
        try:
            yield context
        finally:
            context.close()


def recording_page(context: BrowserContext, *, width: int = 1280, height: int = 900) -> tuple[Page, Requests]:
    """A new page that records every request it makes."""
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    requests = Requests()
    page.on("request", lambda request: requests.urls.append(request.url))
    return page, requests
