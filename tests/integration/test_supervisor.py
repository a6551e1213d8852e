"""The supervisor the stack, the tests and the benchmark share, with real processes and
real signals: whole process groups are stopped and killed, programs restart only when told."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack.health import process_tree
from services.stack.local import LocalStack
from services.stack.supervisor import Supervisor
from services.stack.topology import Health, Program
from shared.settings import Settings
from tests.conftest import TEST_DATA_DIR
from tests.support.processes import ServiceProcess, wait_until

# A main process with a child that ignores SIGTERM, like a pool process busy in native code.
STUBBORN = ("bash", "-c", "(trap '' TERM; sleep 1000) & exec sleep 1000")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _all_gone(family: set[int]) -> None:
    """Wait until no process of ``family`` runs. A SIGKILL is delivered asynchronously: a
    process of the group can still be on its way out when supervisord has seen the main one
    go, as a fresh-clone CI run on a busy machine showed."""
    wait_until(
        lambda: not [pid for pid in family if _alive(pid)],
        timeout=10,
        what=f"every process of the group {sorted(family)} gone",
    )


def _program(name: str, command: tuple[str, ...] = STUBBORN) -> Program:
    return Program(
        name=name,
        command=command,
        health=Health("heartbeat", "none"),
        priority=50,
        stop_seconds=2,
        start_seconds=1,
    )


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    run = TEST_DATA_DIR / f"supervisor-{os.getpid()}"
    supervisor = Supervisor(run, tmp_path / "logs", identifier="dateline-test")
    supervisor.launch()
    yield supervisor
    supervisor.shutdown()


def _family(process: ServiceProcess) -> set[int]:
    """The program's processes once both run: the main sleep and the child ignoring SIGTERM."""
    pid = process.pid
    assert pid is not None

    def grown() -> set[int] | None:
        tree = process_tree(pid)
        return tree if len(tree) >= 2 else None

    return wait_until(grown, timeout=30, what=f"{process.name}'s child processes")  # type: ignore[return-value]


def test_stop_leaves_no_process_of_the_group(supervisor):
    process = ServiceProcess(supervisor, _program("stubborn")).start()
    family = _family(process)
    process.stop()
    # supervisord saw the main process go at once; the child that ignored SIGTERM was
    # killed with the group once the program's stop timeout had passed.
    _all_gone(family)
    assert not process.running and process.info.state == "STOPPED"


def test_killed_program_stays_down_unless_it_may_restart(supervisor):
    once = ServiceProcess(supervisor, _program("once")).start()
    family = _family(once)
    once.kill()  # SIGKILL to the whole group: a crash
    _all_gone(family)
    assert not once.running and once.pid is None
    assert once.info.state in ("EXITED", "FATAL")

    again = ServiceProcess(supervisor, _program("again"), autorestart=True).start()
    first = _family(again)
    again.kill()
    restarted = wait_until(
        lambda: again.pid if again.running and again.pid not in first else None,
        timeout=60,
        what="the program restarted by supervisord",
    )
    assert restarted not in first and not [pid for pid in first if _alive(pid)]


def test_shutdown_stops_every_program_and_supervisord(supervisor):
    processes = [ServiceProcess(supervisor, _program(f"p{n}")).start() for n in range(2)]
    families = set().union(*(_family(p) for p in processes))
    pid = supervisor.pid()
    assert pid and _alive(pid)
    supervisor.shutdown()
    assert not supervisor.is_up() and not _alive(pid)
    assert not [p for p in families if _alive(p)], "supervisord's shutdown killed the groups too"


def test_down_stops_programs_a_killed_supervisord_left_behind(tmp_path):
    settings = Settings(data_dir=TEST_DATA_DIR / f"orphans-{os.getpid()}")
    stack = LocalStack(settings, say=lambda line: None)
    stack.supervisor.launch()
    process = ServiceProcess(stack.supervisor, _program("left")).start()
    family = _family(process)
    supervisord = stack.supervisor.pid()
    assert supervisord is not None
    os.kill(supervisord, signal.SIGKILL)  # its programs live on, now nobody's
    wait_until(lambda: not _alive(supervisord), timeout=30, what="supervisord gone")
    assert all(_alive(pid) for pid in family)
    assert set(stack.supervisor.orphans()) == family
    assert set(stack.supervisor.orphans().values()) == {"left"}

    assert stack.down() is True
    assert not [pid for pid in family if _alive(pid)]
    assert stack.supervisor.orphans() == {}


def _cmdlines(pids: set[int]) -> dict[int, bytes]:
    found = {}
    for pid in pids:
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            pass
    return found


def test_no_password_is_on_any_command_line_of_the_stack(supervisor):
    """Redis and a Celery worker started as `dateline stack` starts them, with a Redis
    password: the password is in no process's command line (every user may read those),
    only in files that are ours alone."""
    import redis as redis_client

    from services.stack.install import install_redis
    from services.stack.topology import dateline_program, redis_program
    from tests.support.services import free_port

    password = "Qx7-unguessable-k2Pz"
    url = f"redis://:{password}@127.0.0.1:{free_port()}/0"
    install = install_redis(TEST_DATA_DIR / f"secret-redis-{os.getpid()}")
    redis = ServiceProcess(supervisor, redis_program(url, install)).start()
    client = redis_client.Redis.from_url(url)
    wait_until(lambda: _pong(client), timeout=30, what="Redis answering with its password", processes=[redis])
    with pytest.raises(redis_client.AuthenticationError):
        redis_client.Redis.from_url(url.replace(password, "wrong")).ping()
    worker = ServiceProcess(
        supervisor,
        dateline_program("worker-light", "worker", "--queues", "language,summary", "--name", "light"),
        env={
            "DATELINE_REDIS_URL": url,
            "DATELINE_DATA_DIR": str(TEST_DATA_DIR / f"secret-data-{os.getpid()}"),
        },
    ).start()
    # The worker connected to the broker: it logged in with the password from its env file.
    wait_until(
        lambda: len(client.client_list()) >= 2 and len(process_tree(worker.pid or 0)) >= 2,
        timeout=120,
        what="the worker and its pool connected to Redis",
        processes=[redis, worker],
    )
    started = {supervisor.pid() or 0} | process_tree(redis.pid or 0) | process_tree(worker.pid or 0)
    lines = _cmdlines(started)
    assert len(lines) >= 3
    leaking = {pid: line for pid, line in lines.items() if password.encode() in line}
    assert not leaking, f"the Redis password is on these command lines: {leaking}"
    # Redis rewrites its process title soon after starting, but the command it was started
    # with stays in supervisord's program file (and in `ps` until then).
    for name in ("redis", "worker-light"):
        assert password not in (supervisor.programs_dir / f"{name}.conf").read_text(), name
    config = Path(redis.program.command[1])
    assert config.stat().st_mode & 0o777 == 0o600 and password in config.read_text()
    for path in (
        supervisor.conf_path,
        supervisor.programs_dir / "redis.conf",
        supervisor.env_path("worker-light"),
    ):
        assert path.stat().st_mode & 0o777 == 0o600, path
    worker.stop()
    redis.stop()


def _pong(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False
