"""The `dateline` command line run as a person runs it: a separate process in the project
folder, with the environment the test gives (its services' URLs, index, token)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import REPO_DIR


def dateline(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``dateline ARGS...``; its exit status, stdout and stderr are the caller's to check."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
