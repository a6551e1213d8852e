"""`dateline stack up/down` (what `make up`/`make down` run): everything starts, an article
dropped into the inbox becomes searchable, and `down` leaves no process of ours running."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_DIR, SEEDS
from tests.support.processes import wait_until
from tests.support.services import free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_stack_up_serves_the_inbox_and_down_stops_everything(ner_model_path):
    # The Elasticsearch user must reach the data folder, so it lives in the repository.
    data = REPO_DIR / ".dateline" / "test" / f"stack-{os.getpid()}"
    inbox = data / "inbox"
    env = {
        **os.environ,
        "DATELINE_DATA_DIR": str(data),
        "DATELINE_INBOX": str(inbox),
        "DATELINE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DATELINE_ELASTICSEARCH_URL": f"http://127.0.0.1:{free_port()}",
        "DATELINE_API_PORT": str(free_port()),
        "DATELINE_NER_MODEL": str(ner_model_path),
        "DATELINE_STABLE_SECONDS": "0.5",
    }

    def dateline(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "services.cli.main", *args], cwd=REPO_DIR,
                              env=env, capture_output=True, text=True, timeout=600)

    try:
        up = dateline("stack", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"Drop article files into: {inbox}" in up.stdout
        pid_files = sorted((data / "run").glob("*.pid"))
        names = {p.stem for p in pid_files}
        assert {"redis", "elasticsearch", "worker-ner", "worker-light", "indexer", "ingest", "api"} <= names
        pids = [int(p.read_text()) for p in pid_files]
        assert all(_alive(pid) for pid in pids)

        shutil.copy(sorted(SEEDS.glob("*.txt"))[2], inbox)

        def searchable() -> bool:
            result = dateline("search", "--json", "Khalilzad")
            return result.returncode == 0 and json.loads(result.stdout)["total"] == 1

        wait_until(searchable, timeout=600, every=2, what="the dropped article searchable")

        down = dateline("stack", "down")
        assert down.returncode == 0, down.stdout + down.stderr
        still = [pid for pid in pids if _alive(pid)]
        assert not still, f"still running after down: {still}"
        leftovers = subprocess.run(["pgrep", "-f", str(data)], capture_output=True, text=True).stdout.split()
        assert not leftovers, f"processes still using {data}: {leftovers}"
        assert not list((data / "run").glob("*.pid"))
    finally:
        dateline("stack", "down")
        shutil.rmtree(data, ignore_errors=True)
