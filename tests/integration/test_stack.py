"""`dateline stack up/down/run/status` (what `make up`/`make down`/`make run` run): everything
starts under one supervisord, an article dropped into the inbox becomes searchable, a second
`up` restarts exactly the programs whose settings changed, a crashed program is restarted,
and `down` (or Ctrl-C on `run`) leaves no process of ours running."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from services.stack.health import process_tree
from shared.heartbeat import read_heartbeats
from tests.support.paths import REPO_DIR, SEEDS
from tests.support.processes import wait_until
from tests.support.services import free_port

PROGRAMS = {"redis", "elasticsearch", "worker", "indexer", "ingest", "api"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _leftovers(data: Path) -> list[str]:
    """Processes whose command line names the stack's data folder (supervisord, Redis,
    Elasticsearch's launcher and server)."""
    return subprocess.run(["pgrep", "-f", str(data)], capture_output=True, text=True).stdout.split()


class LocalStack:
    """A `dateline stack` in a data folder of its own, on free ports, driven by the CLI."""

    def __init__(self, data: Path, ner_model: Path):
        self.data = data
        self.inbox = data / "inbox"
        self.env = {
            **os.environ,
            "DATELINE_DATA_DIR": str(data),
            "DATELINE_INBOX": str(self.inbox),
            "DATELINE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "DATELINE_ELASTICSEARCH_URL": f"http://127.0.0.1:{free_port()}",
            "DATELINE_API_PORT": str(free_port()),
            "DATELINE_NER_MODEL": str(ner_model),
            "DATELINE_STABLE_SECONDS": "0.5",
        }

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            cwd=REPO_DIR,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )

    def programs(self) -> dict[str, dict]:
        result = self("stack", "status", "--json")
        return {p["name"]: p for p in json.loads(result.stdout)["programs"]}

    def pids(self) -> dict[str, int]:
        return {name: p["pid"] for name, p in self.programs().items()}


_numbers = itertools.count()


def _make_local_stacks(ner_model: Path) -> Iterator[Callable[[], LocalStack]]:
    made: list[LocalStack] = []

    def make() -> LocalStack:
        # The Elasticsearch user must reach the data folder, so it lives in the repository.
        stack = LocalStack(
            REPO_DIR / ".dateline" / "test" / f"stack-{os.getpid()}-{next(_numbers)}", ner_model
        )
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack("stack", "down")
        shutil.rmtree(stack.data, ignore_errors=True)


@pytest.fixture
def local_stack(ner_model_path: Path) -> Iterator[Callable[[], LocalStack]]:
    yield from _make_local_stacks(ner_model_path)


@pytest.fixture(scope="module")
def running_stack(ner_model_path: Path) -> Iterator[LocalStack]:
    """One stack that is up, shared by the tests that change it (a stack start costs ~30 s)."""
    for make in _make_local_stacks(ner_model_path):
        dateline = make()
        up = dateline("stack", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        yield dateline


def test_stack_up_serves_the_inbox_and_down_stops_everything(local_stack):
    dateline = local_stack()
    data, inbox = dateline.data, dateline.inbox
    up = dateline("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"Drop article files into: {inbox}" in up.stdout
    programs = dateline.programs()
    assert PROGRAMS <= set(programs)
    assert all(p["state"] == "RUNNING" for p in programs.values()), programs
    pids = [p["pid"] for p in programs.values()]
    assert all(_alive(pid) for pid in pids)
    # Every program logs to its own file under <data>/logs.
    assert {Path(p["log"]) for p in programs.values()} == {data / "logs" / f"{name}.log" for name in programs}

    shutil.copy(sorted(SEEDS.glob("*.txt"))[2], inbox)

    def searchable() -> bool:
        result = dateline("search", "--json", "Khalilzad")
        return result.returncode == 0 and json.loads(result.stdout)["total"] == 1

    wait_until(searchable, timeout=600, every=2, what="the dropped article searchable")

    down = dateline("stack", "down")
    assert down.returncode == 0, down.stdout + down.stderr
    still = [pid for pid in pids if _alive(pid)]
    assert not still, f"still running after down: {still}"
    leftovers = _leftovers(data)
    assert not leftovers, f"processes still using {data}: {leftovers}"
    assert not list((data / "run").glob("*.pid"))
    assert dateline("stack", "status").returncode == 1


def test_stack_up_restarts_exactly_the_programs_whose_settings_changed(running_stack, tmp_path):
    dateline = running_stack
    before = dateline.pids()

    again = dateline("stack", "up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running, settings unchanged" in again.stdout
    assert dateline.pids() == before

    # Another NER model (a name holding what would break a config file or a shell: quotes,
    # %, a space) and another per-language map (JSON) for the workers.
    model = str(tmp_path / 'odd %(name)s "model".pt')
    changed = {"DATELINE_NER_MODEL": model, "DATELINE_NER_MODELS": '{"de": "flair/ner-german"}'}
    dateline.env.update(changed)
    up = dateline("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "restarted worker: DATELINE_NER_MODEL, DATELINE_NER_MODELS changed" in up.stdout
    after = dateline.pids()
    workers = {"worker"}
    assert {name for name in before if after[name] != before[name]} == workers
    assert all(_alive(after[name]) for name in after)

    # The restarted NER worker runs with the new value, exactly as given.
    client = redis.Redis.from_url(dateline.env["DATELINE_REDIS_URL"])

    new_worker = process_tree(after["worker"])

    def ner_model_of_new_worker() -> str | None:
        for beat in read_heartbeats(client, "worker"):
            entities = beat.worker_details.stages.get("entities")
            if (
                entities
                and beat.host == socket.gethostname()
                and beat.pid in new_worker | process_tree(after["worker"])
            ):
                return entities.model
        return None

    assert wait_until(ner_model_of_new_worker, timeout=300, what="a heartbeat of the new NER worker") == model
    assert dateline("stack", "up").stdout.count("already running, settings unchanged") == 1


def test_crashed_program_is_restarted_and_one_that_cannot_start_is_shown_fatal(running_stack):
    dateline = running_stack

    # A crash: the whole process group of the ingest service killed at once.
    crashed = dateline.pids()["ingest"]
    os.killpg(crashed, signal.SIGKILL)
    wait_until(
        lambda: (
            dateline.programs()["ingest"]["pid"] not in (None, crashed)
            and dateline.programs()["ingest"]["state"] == "RUNNING"
        ),
        timeout=120,
        what="ingest restarted by supervisord",
    )
    assert not _alive(crashed)

    # The API's port taken by someone else: it cannot start; `up` says so, status shows it.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        dateline.env["DATELINE_API_PORT"] = str(squatter.getsockname()[1])
        failed = dateline("stack", "up")
        assert failed.returncode == 1
        assert "restarted api" not in failed.stdout  # it did not come back
        assert "api did not start (FATAL" in failed.stderr
        assert "address already in use" in failed.stderr.lower()
        status = dateline("stack", "status", "--json")
        assert status.returncode == 1
        api = {p["name"]: p for p in json.loads(status.stdout)["programs"]}["api"]
        assert api["state"] == "FATAL" and "exit status 3" in api["detail"]  # uvicorn: startup failed
        assert "FATAL" in dateline("stack", "status").stdout


def test_stack_run_stops_everything_on_ctrl_c(local_stack, tmp_path):
    dateline = local_stack()
    output = tmp_path / "run.out"
    with open(output, "wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "stack", "run"],
            cwd=REPO_DIR,
            env=dateline.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: "press Ctrl-C to stop" in output.read_text() or run.poll() is not None,
            timeout=600,
            every=1,
            what="`dateline stack run` ready",
        )
        assert run.poll() is None, output.read_text()
        pids = dateline.pids()
        assert PROGRAMS <= set(pids) and all(_alive(pid) for pid in pids.values())
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        assert run.wait(timeout=600) == 0, output.read_text()
    finally:
        if run.poll() is None:
            run.kill()
    assert "[dateline] stopped" in output.read_text()
    assert not [pid for pid in [run.pid, *pids.values()] if _alive(pid)]
    assert not _leftovers(dateline.data)


def test_down_stops_a_stack_started_before_the_supervisor(local_stack):
    dateline = local_stack()
    run = dateline.data / "run"
    run.mkdir(parents=True)
    # What the old scripts left: a daemonized Redis and its pid file (and a stale one).
    old_redis = subprocess.Popen(["bash", "-c", "exec -a redis-server sleep 1000"], start_new_session=True)
    (run / "redis.pid").write_text(str(old_redis.pid))
    (run / "ingest.pid").write_text("999999999")
    wait_until(
        lambda: "redis-server" in Path(f"/proc/{old_redis.pid}/cmdline").read_text(),
        timeout=30,
        what="the old Redis running",
    )
    refused = dateline("stack", "up")
    assert refused.returncode == 1 and "make down" in refused.stderr

    down = dateline("stack", "down")
    assert down.returncode == 0, down.stderr
    assert f"stopping redis (pid {old_redis.pid}" in down.stdout
    assert old_redis.wait(timeout=60) == -signal.SIGTERM
    assert not list(run.glob("*.pid"))
