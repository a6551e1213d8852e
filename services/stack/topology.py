"""What runs: the one definition of Dateline's programs and the services they need.

``dateline stack`` runs exactly these programs under supervisord, the tests and the
benchmark start them from here, and ``docker-compose.yml`` is checked against them
(``tests/unit/test_compose.py``): same programs, same ``dateline serve`` commands, the same
health checks.

Redis and Elasticsearch run here only when their URLs (``DATELINE_REDIS_URL``,
``DATELINE_ELASTICSEARCH_URL``) point at this machine; their ports come from those URLs.
Where they were installed is reported by ``deploy/local/*.sh install`` (``install.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from shared.expected import SERVICES
from shared.paths import PROJECT_DIR
from shared.settings import Settings

# The settings-services: each reads ``Settings.names_used_by(service)`` and writes its
# heartbeat as ``dateline:service:{service}:{host}:{pid}``. What status expects to run is
# defined with them in shared/expected.py, so the stack and the status views agree.
DATELINE_SERVICES = SERVICES
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
REDIS_DEFAULT_PORT = 6379
ELASTICSEARCH_DEFAULT_PORT = 9200
# A Celery worker finishes the article in hand before it exits (warm shutdown); a large
# article in a big NER model takes tens of seconds on a slow machine.
WORKER_STOP_SECONDS = 120


@dataclass(frozen=True)
class Health:
    """How to tell that a program does its job, resolved against the settings when checked.

    ``redis``/``elasticsearch``: the server at ``DATELINE_REDIS_URL``/``..._ELASTICSEARCH_URL``
    (or at ``target``, a URL: one node of several) answers; ``http``: the API answers ``target`` (a path) with 200; ``heartbeat``: a process of
    service ``target`` on this host has a live heartbeat (``dateline health SERVICE``).
    """

    kind: Literal["redis", "elasticsearch", "http", "heartbeat"]
    target: str = ""


@dataclass(frozen=True)
class Program:
    name: str
    command: tuple[str, ...]
    health: Health
    priority: int  # started in ascending order, stopped in descending order
    stop_seconds: int  # from SIGTERM to SIGKILL (of the whole process group)
    service: str | None = None  # the settings-service; None for Redis and Elasticsearch
    # Alive this long after spawning counts as started. A program that dies sooner is retried
    # and ends FATAL; one that dies later is restarted for ever, so this must outlast the
    # slowest start failure (the API binds its port after importing everything: ~4 s while
    # the workers load their models on 2 cores).
    start_seconds: int = 10
    ready_seconds: float = 60  # how long it may take to become healthy after that
    environment: Mapping[str, str] = field(default_factory=dict)  # fixed, never settings
    user: str | None = None
    directory: Path = PROJECT_DIR

    def launched_by(self, launcher: Sequence[str], name: str) -> Program:
        """The same program, named ``name``, started through ``launcher``: a command that runs
        the rest of its arguments elsewhere as the same process (another host's network
        namespace: ``ip netns exec NS ...``), so supervisord's signals still reach it."""
        return replace(self, name=name, command=(*launcher, *self.command))

    @property
    def serve_args(self) -> tuple[str, ...]:
        """The arguments after ``dateline serve`` (empty for backing services)."""
        if self.service is None:
            return ()
        return self.command[self.command.index("serve") + 1 :]


def serve_command(*args: str) -> tuple[str, ...]:
    """``dateline serve ...`` with this interpreter, so the venv need not be on PATH."""
    return (sys.executable, "-m", "services.cli.main", "serve", *args)


def dateline_program(name: str, *args: str, priority: int = 50) -> Program:
    """A ``dateline serve SERVICE ...`` program; its settings-service is ``args[0]``."""
    service = args[0]
    if service not in DATELINE_SERVICES:
        raise ValueError(f"unknown service {service!r}; choose from {DATELINE_SERVICES}")
    health = Health("http", "/health") if service == "api" else Health("heartbeat", service)
    stop_seconds = WORKER_STOP_SECONDS if service == "worker" else 30
    return Program(
        name=name,
        command=serve_command(*args),
        health=health,
        priority=priority,
        stop_seconds=stop_seconds,
        service=service,
    )


# Dateline's own programs; the indexer starts first so nothing waits on it. One worker
# serves every stage with one pool process per core (DATELINE_WORKER_CONCURRENCY=0): a task
# runs language, summary and entities in one process, so every core works on the heaviest
# stage and an article makes no queue hop. Measured against a worker per stage by
# `make bench` (tests/bench/topology.py, README "Measured"). The per-stage queues stay for
# scaling out: `dateline serve worker --queues entities` on another host.
PROGRAMS: tuple[Program, ...] = (
    dateline_program("indexer", "indexer", priority=30),
    dateline_program("delivery", "delivery", priority=35),
    dateline_program("worker", "worker", "--name", "worker", priority=40),
    dateline_program("ingest", "ingest", priority=50),
    dateline_program("api", "api", priority=60),
)


def health_of(name: str) -> Health | None:
    """The health check of any program of the stack, by name (None: not one of ours)."""
    if name in BACKING_HEALTH:
        return BACKING_HEALTH[name]
    return next((p.health for p in PROGRAMS if p.name == name), None)


def priority_of(name: str) -> int:
    """The start order of any program of the stack, by name (not one of ours: last)."""
    if name in BACKING_PRIORITY:
        return BACKING_PRIORITY[name]
    return next((p.priority for p in PROGRAMS if p.name == name), 1000)


# --- backing services ---------------------------------------------------------------------

REDIS, ELASTICSEARCH = "redis", "elasticsearch"
BACKING_HEALTH = {REDIS: Health("redis"), ELASTICSEARCH: Health("elasticsearch")}
BACKING_PRIORITY = {REDIS: 10, ELASTICSEARCH: 20}


@dataclass(frozen=True)
class RedisInstall:
    """What ``deploy/local/redis.sh install`` reports."""

    server: str  # the redis-server executable
    data: Path


@dataclass(frozen=True)
class ElasticsearchInstall:
    """What ``deploy/local/elasticsearch.sh install`` reports."""

    home: Path
    java_home: Path
    data: Path
    logs: Path
    user: str | None  # set when we are root: Elasticsearch refuses to run as root


def is_local(url: str) -> bool:
    """Whether a URL names this machine, so the local stack runs the server itself."""
    return (urlparse(url).hostname or "") in LOCAL_HOSTS


def _bind_address(url: str) -> str:
    return "::1" if urlparse(url).hostname == "::1" else "127.0.0.1"


def port_of(url: str, default: int) -> int:
    return urlparse(url).port or default


def redis_program(url: str, install: RedisInstall, *, also_listen: Sequence[str] = ()) -> Program:
    """Redis on the port of ``url``, on loopback and the ``also_listen`` addresses (another
    host's route to this machine). A password in the URL (``redis://:PASSWORD@...``) is
    required of every client: it goes into a config file only we may read
    (``redis_config``), never on the command line, which every user sees (``ps``,
    ``/proc/PID/cmdline``, supervisord's program file)."""
    # Foreground (supervisord watches it); append-only persistence so the registry and
    # queued work survive a restart.
    options: tuple[str, ...] = (
        "--bind",
        _bind_address(url),
        *also_listen,
        "--port",
        str(port_of(url, REDIS_DEFAULT_PORT)),
        "--dir",
        str(install.data),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
    )
    password = urlparse(url).password
    # redis-server takes its config file as the first argument, before any option.
    config = (str(redis_config(install.data, unquote(password))),) if password else ()
    return Program(
        name=REDIS,
        command=(install.server, *config, *options),
        health=BACKING_HEALTH[REDIS],
        priority=BACKING_PRIORITY[REDIS],
        stop_seconds=30,
        start_seconds=1,
        ready_seconds=30,
    )


REDIS_CONFIG_KEY = ".config-key"


def redis_config(folder: Path, password: str) -> Path:
    """Write ``requirepass`` into ``folder/redis-<tag>.conf`` (mode 0600, the folder 0700) and
    return its path. The tag is a keyed digest of the password (the key: a random file of
    ours in ``folder``), so a new password is a new command and ``dateline stack up``
    restarts Redis, while the command line tells nothing about the password."""
    if any(char in password for char in "\r\n\0"):
        raise ValueError(
            "the Redis password in DATELINE_REDIS_URL holds a line break or NUL; generate one "
            "without (make setup writes random ones)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    key_path = folder / REDIS_CONFIG_KEY
    try:
        key = key_path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        _write_private(key_path, key)
    tag = hmac.new(key, password.encode(), hashlib.sha256).hexdigest()[:16]
    path = folder / f"redis-{tag}.conf"
    # Redis reads a double-quoted string with backslash escapes.
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    _write_private(
        path,
        f"# Written by services/stack/topology.py; the password of DATELINE_REDIS_URL.\n"
        f'requirepass "{quoted}"\n'.encode(),
    )
    for stale in folder.glob("redis-*.conf"):
        if stale != path:
            stale.unlink(missing_ok=True)  # Redis reads its config only when it starts
    return path


def _write_private(path: Path, data: bytes) -> None:
    """Atomically, readable and writable by us alone (0600 from the start, whatever the umask)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)


@dataclass(frozen=True)
class ClusterNode:
    """One node of a cluster of several on this machine: its own name, transport port, data
    and log folders (under the install's, by name), and how the cluster forms the first time."""

    name: str
    transport_port: int
    seed_ports: tuple[int, ...]  # transport ports of every node, this one included
    masters: tuple[str, ...]  # the master-eligible nodes that elect the first master
    cluster: str = "dateline-local"


def elasticsearch_program(
    url: str,
    heap: str,
    install: ElasticsearchInstall,
    *,
    node: ClusterNode | None = None,
    also_listen: Sequence[str] = (),
    conf_dir: Path | None = None,
    security: bool = False,
    java_options: str = "",
) -> Program:
    """An Elasticsearch node on the port of ``url``, the options ``deploy/local/elasticsearch.sh``
    used: the local stack's single node, or with ``node`` one node of a cluster (program
    ``node.name``). The zip carries the security module, which would turn TLS on: it is off
    because the node listens on loopback, for local use and tests (compose users get Elastic's
    image); ``security`` turns authentication on (users from ``conf_dir``, Elasticsearch's
    config folder), still without TLS. ``also_listen``: more HTTP addresses (another host's
    route to this machine); transport stays on loopback, so the node keeps its development
    mode. The disk threshold is off so a nearly full developer disk does not turn the index
    read-only. ``java_options``: more JVM options, after the heap (settings.es_java_options)."""
    bind = _bind_address(url)
    options = {
        "network.host": bind,
        "http.port": str(port_of(url, ELASTICSEARCH_DEFAULT_PORT)),
        "transport.port": "0",
        "cluster.name": "dateline-local",
        "path.data": str(install.data),
        "path.logs": str(install.logs),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
        "xpack.security.enabled": "false",
    }
    if node is None:
        options = {"discovery.type": "single-node", **options}
    else:
        # Each node its own folders (8.x refuses to share one); discovery through the others'
        # transport ports, and the first election among ``masters``.
        options |= {
            "node.name": node.name,
            "cluster.name": node.cluster,
            "transport.port": str(node.transport_port),
            "discovery.seed_hosts": ",".join(f"{bind}:{port}" for port in node.seed_ports),
            "cluster.initial_master_nodes": ",".join(node.masters),
            "path.data": str(install.data / node.name),
            "path.logs": str(install.logs / node.name),
        }
    if also_listen:
        options |= {"http.host": ",".join((bind, *also_listen)), "transport.host": bind}
    if security:
        options |= {
            "xpack.security.enabled": "true",
            "xpack.security.http.ssl.enabled": "false",
            "xpack.security.transport.ssl.enabled": "false",
        }
    command = (
        str(install.home / "bin" / "elasticsearch"),
        *(arg for key, value in options.items() for arg in ("-E", f"{key}={value}")),
    )
    java_opts = " ".join((f"-Xms{heap} -Xmx{heap}", *java_options.split()))
    environment = {"ES_JAVA_HOME": str(install.java_home), "ES_JAVA_OPTS": java_opts}
    if conf_dir is not None:
        environment["ES_PATH_CONF"] = str(conf_dir)
    if install.user:
        # supervisord's user= changes only the uid: the JVM still wants a home it may write.
        environment |= {"HOME": str(install.home.parent), "USER": install.user}
    name = node.name if node is not None else ELASTICSEARCH
    # A node of several answers its own health check, on its own port.
    health = (
        BACKING_HEALTH[ELASTICSEARCH] if node is None and not also_listen else Health("elasticsearch", url)
    )
    return Program(
        name=name,
        command=command,
        health=health,
        priority=BACKING_PRIORITY[ELASTICSEARCH],
        stop_seconds=120,
        start_seconds=5,
        ready_seconds=180,
        environment=environment,
        user=install.user,
        directory=install.home,
    )


def backing_programs(
    settings: Settings, redis: RedisInstall | None, elasticsearch: ElasticsearchInstall | None
) -> list[Program]:
    """Redis and Elasticsearch, where their URLs point at this machine."""
    programs = []
    if redis is not None and is_local(settings.redis_url):
        programs.append(redis_program(settings.redis_url, redis))
    if elasticsearch is not None and is_local(settings.elasticsearch_url):
        programs.append(
            elasticsearch_program(
                settings.elasticsearch_url,
                settings.es_heap,
                elasticsearch,
                java_options=settings.es_java_options,
            )
        )
    return programs
