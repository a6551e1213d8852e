"""A small archive the way a user makes one, for the browser tests and `make screenshots`:
the five sample articles in a publisher's folder, one of them again under another folder (a
duplicate), a JSON Lines feed with dates, datelines and its own source, one line of which is
broken, a cut-off JSON file and a blank one. All through the real pipeline of a ``Stack``.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from shared.registry import Registry
from tests.support.paths import SEEDS
from tests.support.processes import ServiceProcess, wait_until
from tests.support.services import free_port
from tests.support.stack import Stack

SEED_FILES = sorted(SEEDS.glob("*.txt"))
PUBLISHER = "The Nation"  # the seeds' own publisher: their folder names the source
DUPLICATE = "Wire/taliban-talks.txt"  # the same text as SEED_FILES[2]
FEED = "feeds/app-briefs.jsonl"
FEED_SOURCE = "APP"  # named by each record: the file's own metadata wins over its folder
BROKEN = "broken.json"
BLANK = "notes.txt"

BRIEFS = [
    (
        "Flood relief reaches Sindh villages",
        "2023-05-14",
        "KARACHI",
        "Relief trucks reached flooded villages in Sindh on Sunday, officials said. The National "
        "Disaster Management Authority said more tents and food would follow within the week.",
    ),
    (
        "Railway upgrade approved for Lahore line",
        "2023-06-03",
        "LAHORE",
        "The federal cabinet approved the upgrade of the Lahore railway line on Saturday. Pakistan "
        "Railways said the work would shorten journeys to Karachi by four hours.",
    ),
    (
        "Polio campaign resumes in Peshawar",
        "2023-06-20",
        "PESHAWAR",
        "A polio vaccination campaign resumed in Peshawar on Tuesday after a two-week pause. Health "
        "officials said teams would visit every household in the district.",
    ),
    (
        "Pakistan and Afghanistan discuss border trade",
        "2023-07-22",
        "ISLAMABAD",
        "Officials of Pakistan and Afghanistan met in Islamabad on Saturday to discuss border trade. "
        "The Foreign Office said both sides agreed to keep the Torkham crossing open.",
    ),
]


@dataclass(frozen=True)
class Demo:
    """What the demo archive holds, for tests to check against."""

    documents: int  # documents indexed
    texts: int  # distinct texts (collapsed hits)
    indexed_files: int
    failed_files: tuple[str, ...]
    partly_failed: str  # indexed, with one bad line


def fill_inbox(inbox: Path) -> Demo:
    nation = inbox / PUBLISHER
    nation.mkdir(parents=True, exist_ok=True)
    for seed in SEED_FILES:
        shutil.copy(seed, nation / seed.name)
    (inbox / DUPLICATE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED_FILES[2], inbox / DUPLICATE)
    lines = [
        json.dumps({"title": title, "text": f"date {day} {place}: {text}", "source": FEED_SOURCE})
        for title, day, place, text in BRIEFS
    ]
    lines.insert(2, '{"title": "Budget talks", "body": "The budget')  # cut off: not valid JSON
    (inbox / FEED).parent.mkdir(parents=True, exist_ok=True)
    (inbox / FEED).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (inbox / BROKEN).write_text('{"title": "Late budget", "body": "The bud', encoding="utf-8")
    (inbox / BLANK).write_text("  \n\n   \n", encoding="utf-8")
    return Demo(
        documents=len(SEED_FILES) + 1 + len(BRIEFS),
        texts=len(SEED_FILES) + len(BRIEFS),
        indexed_files=len(SEED_FILES) + 2,
        failed_files=(BROKEN, BLANK),
        partly_failed=FEED,
    )


def start_api(stack: Stack) -> tuple[ServiceProcess, str]:
    """The API as a real process of the stack on a free loopback port; returns its URL."""
    port = free_port()
    api = stack.start("api", "api", env={"DATELINE_API_HOST": "127.0.0.1", "DATELINE_API_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url + "/static/app.css", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(answers, timeout=120, what="the API answering", processes=[api])
    return api, url


def run_demo(stack: Stack) -> tuple[Demo, str, list[ServiceProcess]]:
    """Start every program of the stack and the API, fill the inbox, wait until all is done."""
    processes = [
        *stack.start_workers(),
        stack.start_indexer(),
        stack.start("delivery", "delivery"),  # every service of the topology, or status is degraded
        stack.start_ingest(),
    ]
    api, url = start_api(stack)
    processes.append(api)
    demo = fill_inbox(stack.inbox)
    registry = Registry(stack.redis)

    def done() -> bool:
        counts = registry.counts()
        return (
            stack.count() == demo.documents
            and counts["indexed"] == demo.indexed_files
            and counts["failed"] == len(demo.failed_files)
        )

    wait_until(done, timeout=900, every=1, what="the demo archive indexed", processes=processes)
    return demo, url, processes
