"""Redis and Elasticsearch for tests and benchmarks: the programs of
``services/stack/topology.py``, installed by the same ``deploy/local`` scripts and run by a
supervisord of their own, on their own ports and data folder, so a dev stack is never
touched."""

from __future__ import annotations

import socket
from pathlib import Path

from services.stack.install import install_elasticsearch, install_redis
from services.stack.local import wait_healthy
from services.stack.supervisor import Supervisor
from services.stack.topology import ELASTICSEARCH, REDIS, Program, elasticsearch_program, redis_program
from shared.settings import Settings
from tests.support.processes import ServiceProcess


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BackingServices:
    def __init__(self, data_dir: Path, redis_port: int, es_port: int):
        self.data_dir = data_dir
        self.redis_port = redis_port
        self.es_port = es_port
        self.settings = Settings(data_dir=data_dir, redis_url=self.redis_url, elasticsearch_url=self.es_url)
        self.supervisor = Supervisor(data_dir / "run", data_dir / "logs", identifier="dateline-test-services")
        self.processes: dict[str, ServiceProcess] = {}

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.es_port}"

    def _program(self, name: str) -> Program:
        if name == REDIS:
            return redis_program(self.redis_url, install_redis(self.data_dir))
        if name == ELASTICSEARCH:
            return elasticsearch_program(
                self.es_url,
                self.settings.es_heap,
                install_elasticsearch(self.data_dir),
                java_options=self.settings.es_java_options,
            )
        raise ValueError(f"no backing service {name!r}; choose {REDIS} or {ELASTICSEARCH}")

    def start(self, *names: str) -> None:
        """Start (and wait until healthy) what is not running yet."""
        if not self.supervisor.is_up():
            self.supervisor.launch()
        for name in names or (REDIS, ELASTICSEARCH):
            if name in self.processes and self.processes[name].running:
                continue
            process = ServiceProcess(self.supervisor, self._program(name)).start()
            self.processes[name] = process
            wait_healthy(self.supervisor, process.program, self.settings)

    def stop(self, *names: str) -> None:
        """Stop these (default: all); supervisord goes with the last one."""
        for name in names or (ELASTICSEARCH, REDIS):
            process = self.processes.pop(name, None)
            if process is not None:
                process.stop()
        if not self.processes:
            self.shutdown()

    def shutdown(self) -> None:
        self.supervisor.shutdown()
        self.processes.clear()
