"""Elasticsearch nodes of a test's own, apart from the session's: a cluster of several nodes
on loopback, or one node that another host (a network namespace) reaches with credentials.

Each is the topology's Elasticsearch program (``services/stack/topology.py``) under a
supervisord of the test's own, with its own data, logs and ports, so a test can kill a node
without touching the session's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from services.stack.install import install_elasticsearch
from services.stack.local import wait_healthy
from services.stack.supervisor import Supervisor
from services.stack.topology import ClusterNode, ElasticsearchInstall, Program, elasticsearch_program
from shared.search.client import make_client
from shared.settings import Settings
from tests.support.processes import ServiceProcess
from tests.support.services import free_port

NODE_READY_SECONDS = 600.0


class ElasticsearchNodes:
    def __init__(
        self, folder: Path, install_dir: Path, *, heap: str = "512m", identifier: str = "dateline-test-es"
    ):
        self.folder = folder
        self.heap = heap
        base = install_elasticsearch(install_dir)
        self.install: ElasticsearchInstall = replace(base, data=folder / "data", logs=folder / "logs")
        self.supervisor = Supervisor(folder / "run", folder / "supervisor-logs", identifier=identifier)
        self.processes: dict[str, ServiceProcess] = {}
        self.urls: dict[str, str] = {}
        self.settings = Settings(_env_file=None)

    # --- what runs -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: ``DATELINE_ELASTICSEARCH_URL`` for the cluster."""
        return ",".join(self.urls.values())

    def client(self, timeout: float = 30.0) -> Elasticsearch:
        return make_client(self.url, timeout=timeout, settings=self.settings)

    def _prepare(self) -> None:
        for path in (self.install.data, self.install.logs):
            path.mkdir(parents=True, exist_ok=True)
        if self.install.user:
            subprocess.run(["chown", "-R", self.install.user, str(self.folder)], check=True)

    def start_node(self) -> None:
        """One node as the local stack runs it (single-node discovery, loopback)."""
        url = f"http://127.0.0.1:{free_port()}"
        self.urls["elasticsearch"] = url
        self.settings = Settings(_env_file=None, elasticsearch_url=url)
        self._run([self._program(url, conf_dir=self._config("elasticsearch"))])

    def start_cluster(self, size: int, name: str = "dateline-test-cluster") -> None:
        """``size`` nodes that form one cluster on loopback (each master-eligible and data)."""
        names = [f"es-{i + 1}" for i in range(size)]
        transport = [free_port() for _ in names]
        programs = []
        for node_name, port in zip(names, transport, strict=True):
            url = f"http://127.0.0.1:{free_port()}"
            node = ClusterNode(
                name=node_name,
                transport_port=port,
                seed_ports=tuple(transport),
                masters=tuple(names),
                cluster=name,
            )
            for path in (self.install.data / node_name, self.install.logs / node_name):
                path.mkdir(parents=True, exist_ok=True)
            self.urls[node_name] = url
            programs.append(self._program(url, node=node, conf_dir=self._config(node_name)))
        self.settings = Settings(_env_file=None, elasticsearch_url=self.url)
        # All at once: no node is healthy before enough of them have met to elect a master.
        self._run(programs)

    def _program(self, url: str, **options: Any) -> Program:
        """A node of these on ``url`` (``options``: elasticsearch_program's), with the JVM
        options of the suite (DATELINE_ES_JAVA_OPTIONS, tests/conftest.py)."""
        java_options = self.settings.es_java_options  # every Settings here reads the environment
        return elasticsearch_program(url, self.heap, self.install, java_options=java_options, **options)

    def _config(self, name: str) -> Path:
        """A config folder of the node's own: a node rewrites its keystore there at start, and
        nodes sharing one race on it."""
        conf = self.folder / "config" / name
        if not conf.exists():
            shutil.copytree(self.install.home / "config", conf)
        return conf

    def start_reachable_node(self, also_listen: Sequence[str], user: str, password: str) -> None:
        """One node on loopback and ``also_listen``, with security on and ``user`` (a
        superuser of the file realm) as its only account."""
        conf = self._config("elasticsearch")
        subprocess.run(
            [
                str(self.install.home / "bin" / "elasticsearch-users"),
                "useradd",
                user,
                "-p",
                password,
                "-r",
                "superuser",
            ],
            env={**os.environ, "ES_PATH_CONF": str(conf), "ES_JAVA_HOME": str(self.install.java_home)},
            check=True,
            capture_output=True,
        )
        url = f"http://127.0.0.1:{free_port()}"
        self.urls["elasticsearch"] = url
        self.settings = Settings(
            _env_file=None,
            elasticsearch_url=url,
            elasticsearch_username=user,
            elasticsearch_password=password,
        )
        self._run([self._program(url, also_listen=also_listen, conf_dir=conf, security=True)])

    def _run(self, programs: list[Program]) -> None:
        self._prepare()  # everything the nodes use belongs to their user
        # A safety net, not a bound under test: three JVMs electing a master on two vCPUs
        # beside the suite's other tests took longer than the stack's 180 s in CI.
        programs = [replace(p, ready_seconds=max(p.ready_seconds, NODE_READY_SECONDS)) for p in programs]
        if not self.supervisor.is_up():
            self.supervisor.launch()
        for program in programs:
            self.processes[program.name] = ServiceProcess(self.supervisor, program).start()
        for program in programs:
            wait_healthy(self.supervisor, program, self.settings)

    # --- faults --------------------------------------------------------------------------
    def node_holding_primary(self, index: str) -> str:
        rows = self.client().cat.shards(index=index, format="json", h="prirep,state,node").body
        primaries = [row["node"] for row in rows if row["prirep"] == "p" and row["state"] == "STARTED"]
        if not primaries:
            raise AssertionError(f"no started primary shard of {index}: {rows}")
        return str(primaries[0])

    def stop(self) -> None:
        self.supervisor.shutdown()
        self.processes.clear()
