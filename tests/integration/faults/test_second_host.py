"""Workers on a second host, killed mid-article: their work ends indexed on the first host.

The second host is a network namespace joined to this machine by a veth pair on a private
/30, with a host name of its own. It reaches Redis and Elasticsearch on the first host the
way another machine would: over the pair's address, with the secrets Dateline demands
beyond loopback (a Redis password, an Elasticsearch user; security is on). Those are the
test's own Redis and Elasticsearch, listening on loopback and the pair's address; the
session's loopback-only services are not touched.

The first host runs ingest, the indexer, the light worker and (once the second host is
busy) an NER worker; the second host runs an NER worker. While it is in the middle of an
article, every process of the second host gets SIGKILL. The article it held is delivered
again and finished on the first host; every file ends indexed, no document twice, and
status tells the truth: the dead host's worker leaves status, its in-flight marker is
replaced once the article is taken up again, and nothing is left "processing" at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from services.stack.install import install_redis
from services.stack.local import wait_healthy
from services.stack.supervisor import Supervisor
from services.stack.topology import redis_program
from shared.celery_app import RESTORE_SECONDS
from shared.heartbeat import HEARTBEAT_TTL_FACTOR, read_heartbeats
from shared.registry import Registry
from shared.settings import Settings
from shared.status import collect_status
from tests.conftest import TEST_DATA_DIR
from tests.integration.faults.conftest import FAST_BOUNDS
from tests.support.elasticsearch_nodes import ElasticsearchNodes
from tests.support.netns import SecondHost, existing_namespaces, second_host
from tests.support.paths import REPO_DIR, SEEDS
from tests.support.processes import ServiceProcess, wait_until
from tests.support.services import free_port

pytestmark = pytest.mark.faults  # integration: by folder (tests/conftest.py)

HOSTNAME = "dateline-h2"
ES_USER = "dateline"
ARTICLES = 4
# Redelivery of a task whose worker vanished: the fault tests' short bounds, so the test is
# quick (the defaults bring it back within two minutes: test_fault_worker.py).
VISIBILITY_TIMEOUT = int(FAST_BOUNDS["DATELINE_TASK_VISIBILITY_TIMEOUT"])
# kombu's Redis transport looks for such tasks every RESTORE_SECONDS (shared/celery_app.py).
REDELIVERY_SWEEP = RESTORE_SECONDS
PROCESSING_ALLOWANCE = 180  # the article itself, on a busy 2-core machine
BOUND = VISIBILITY_TIMEOUT + REDELIVERY_SWEEP + PROCESSING_ALLOWANCE
WAIT = 900.0  # safety net only


@pytest.fixture(scope="module")
def host() -> Iterator[SecondHost]:
    with second_host(f"dateline-h2-{os.getpid()}", HOSTNAME) as made:
        yield made


@pytest.fixture(scope="module")
def backing(host: SecondHost) -> Iterator[dict[str, str]]:
    """Redis (with a password) and Elasticsearch (security on), each on loopback and on the
    pair's address of this machine."""
    folder = TEST_DATA_DIR / "second-host"
    redis_password, es_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    port = free_port()
    supervisor = Supervisor(folder / "run", folder / "logs", identifier="dateline-test-second-host")
    es = ElasticsearchNodes(folder / "es", TEST_DATA_DIR, identifier="dateline-test-second-host-es")
    try:
        redis_url = f"redis://:{redis_password}@127.0.0.1:{port}/0"
        install = replace(install_redis(TEST_DATA_DIR), data=folder / "redis")
        install.data.mkdir(parents=True, exist_ok=True)
        supervisor.launch()
        redis = ServiceProcess(
            supervisor, redis_program(redis_url, install, also_listen=[host.host_address])
        ).start()
        wait_healthy(supervisor, redis.program, Settings(_env_file=None, redis_url=redis_url))
        es.start_reachable_node([host.host_address], ES_USER, es_password)
        yield {
            "redis_url": redis_url,
            "es_url": es.url,
            "es_password": es_password,
            "host_address": host.host_address,
        }
    finally:
        es.stop()
        supervisor.shutdown()


def _long_article(number: int) -> str:
    """A long article (all seeds twice), so NER takes seconds: the kill lands mid-article."""
    bodies = [path.read_text().split("\n", 1)[1] for path in sorted(SEEDS.glob("*.txt"))]
    return f"Regional report number {number}\n\nReport {number} opens here.\n" + "\n".join(bodies * 2)


def _on_second_host(url: str, address: str) -> str:
    """The same service URL, as the second host reaches it: the pair's address, not loopback."""
    return url.replace("127.0.0.1", address)


def _processing_on(stack, hostname: str) -> list[dict]:
    return [
        entry
        for entry in collect_status(stack.redis).processing
        if entry["worker"].startswith(f"{hostname}:")
    ]


def test_second_host_killed_mid_article_its_work_ends_indexed_on_the_first(host, backing, make_stack):
    secured = {
        "DATELINE_ELASTICSEARCH_USERNAME": ES_USER,
        "DATELINE_ELASTICSEARCH_PASSWORD": backing["es_password"],
        **FAST_BOUNDS,
    }
    stack = make_stack(redis_base_url=backing["redis_url"], es_url=backing["es_url"], extra_env=secured)
    remote = {
        "DATELINE_REDIS_URL": _on_second_host(stack.redis_url, host.host_address),
        "DATELINE_ELASTICSEARCH_URL": _on_second_host(stack.es_url, host.host_address),
    }
    first = [
        stack.start_indexer(),
        stack.start_ingest(),
        stack.start("worker-light", "worker", "--queues", "language,summary", "--name", "light"),
    ]

    # The second host: an NER worker, in the namespace, against the first host's services.
    ner_h2 = stack.start(
        "h2-worker-ner", "worker", "--queues", "entities", "--name", "ner", env=remote, launcher=host.prefix()
    )
    wait_until(
        lambda: any(
            b.host == HOSTNAME and b.state == "running" for b in read_heartbeats(stack.redis, "worker")
        ),
        timeout=WAIT,
        what="the second host's NER worker running",
        processes=[ner_h2, *first],
    )

    # From the second host, as a user there would check: the worker is healthy on that host,
    # Elasticsearch answers with the credentials, and without them Dateline refuses to start.
    env = {**stack.env, **remote, "PYTHONPATH": str(REPO_DIR)}
    cli = (sys.executable, "-m", "services.cli.main")
    health = host.run(*cli, "health", "worker", env=env)
    assert health.returncode == 0 and HOSTNAME in health.stdout, health.stdout + health.stderr
    index = host.run(*cli, "index", "status", "--json", env=env)
    assert index.returncode == 0, index.stderr
    assert json.loads(index.stdout)["cluster"]["status"] in ("green", "yellow")
    without = {k: v for k, v in env.items() if k != "DATELINE_ELASTICSEARCH_PASSWORD"}
    refused = host.run(*cli, "index", "status", env=without)
    assert refused.returncode == 2 and "needs credentials" in refused.stderr, refused.stderr
    assert backing["es_password"] not in refused.stderr + index.stdout + index.stderr

    for number in range(ARTICLES):
        (stack.inbox / f"report-{number}.txt").write_text(_long_article(number))

    held = wait_until(
        lambda: [e for e in _processing_on(stack, HOSTNAME) if e["stage"] == "entities"],
        timeout=WAIT,
        every=0.1,
        what="the second host in the middle of an article",
        processes=[ner_h2, *first],
    )
    assert isinstance(held, list)
    # The first host serves NER as well from now on; then the second host dies.
    ner_h1 = stack.start("worker-ner", "worker", "--queues", "entities", "--name", "ner")
    worker_pids = {int(beat.pid) for beat in read_heartbeats(stack.redis, "worker") if beat.host == HOSTNAME}
    killed_at = time.monotonic()
    killed = host.kill_everything(signal.SIGKILL)
    assert set(killed) >= worker_pids and not host.pids()
    wait_until(lambda: not ner_h2.running, timeout=60, what="supervisord saw the second host's worker die")

    # It was mid-article: its in-flight marker is still there, naming the dead worker.
    stale = _processing_on(stack, HOSTNAME)
    assert {e["path"] for e in stale} == {e["path"] for e in held}, (stale, held)
    path = held[0]["path"]

    # Status: the dead host's worker leaves within its heartbeat's lifetime.
    wait_until(
        lambda: not [b for b in read_heartbeats(stack.redis, "worker") if b.host == HOSTNAME],
        timeout=float(FAST_BOUNDS["DATELINE_HEARTBEAT_SECONDS"]) * HEARTBEAT_TTL_FACTOR + 30,
        what="the dead host's heartbeat expired",
    )
    assert [b for b in collect_status(stack.redis).workers if b.host != HOSTNAME]

    processes = [ner_h1, *first]
    registry = Registry(stack.redis)

    def held_article_indexed() -> bool:
        record = registry.get(path)
        return record is not None and record.state == "indexed"

    # The bound: the article the dead host held ends indexed on this one within it.
    wait_until(
        held_article_indexed,
        timeout=BOUND,
        every=0.5,
        processes=processes,
        what=f"{path}, held by the dead host, indexed within the bound ({BOUND} s)",
    )
    held_indexed_at = time.monotonic()
    wait_until(
        lambda: registry.counts().get("indexed") == ARTICLES,
        timeout=WAIT,
        every=1.0,
        what=f"all {ARTICLES} files indexed",
        processes=processes,
    )

    # Nothing stale left: the article the dead host held was taken up on this one.
    status = collect_status(stack.redis)
    assert not status.processing, status.processing
    assert status.files.get("failed", 0) == 0 and not status.failures, status.failures
    assert not [b for b in status.workers if b.host == HOSTNAME]

    documents = stack.documents()
    ids = [doc["_id"] for doc in documents]
    assert len(ids) == len(set(ids)) == ARTICLES
    by_path = {doc["source_path"]: doc for doc in documents}
    assert set(by_path) == {f"report-{n}.txt" for n in range(ARTICLES)}
    redone = by_path[path]
    assert redone["provenance"]["entities"]["status"] == "ok"
    assert all(
        doc["provenance"][stage]["status"] == "ok" for doc in documents for stage in ("language", "summary")
    )

    # The task came back by redelivery to the first host's worker (the second host is gone).
    assert any(
        b.host != HOSTNAME and b.worker_details.tasks_done >= 1
        for b in read_heartbeats(stack.redis, "worker")
        if "entities" in b.worker_details.queues
    )
    print(
        f"\nsecond host: killed {len(killed)} processes mid-article ({path}); it was indexed on the first host "
        f"{held_indexed_at - killed_at:.1f} s after the kill (bound {BOUND} s: visibility timeout "
        f"{VISIBILITY_TIMEOUT} s + redelivery sweep {REDELIVERY_SWEEP} s + the article)"
    )


def test_the_second_host_is_removed_even_when_its_test_fails():
    name = f"dateline-h2-cleanup-{os.getpid()}"
    with pytest.raises(RuntimeError, match="the test failed"):
        with second_host(name, HOSTNAME) as made:
            sleeper = subprocess.Popen([*made.prefix(), "sleep", "300"])
            wait_until(lambda: sleeper.pid in made.pids(), timeout=30, what="a process on the second host")
            raise RuntimeError("the test failed")
    assert sleeper.wait(timeout=30) == -signal.SIGKILL
    assert name not in existing_namespaces()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert f" {made.outer}" not in links and f" {made.outer}@" not in links
