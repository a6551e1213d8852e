"""Redis and Elasticsearch for tests and benchmarks, through the same `deploy/local`
scripts users run, on their own ports and data folder so a dev stack is never touched."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]


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

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.es_port}"

    def script(self, name: str, action: str) -> None:
        env = {
            **os.environ,
            "DATELINE_DATA_DIR": str(self.data_dir),
            "DATELINE_REDIS_PORT": str(self.redis_port),
            "DATELINE_ES_PORT": str(self.es_port),
        }
        subprocess.run(["bash", str(REPO_DIR / "deploy" / "local" / f"{name}.sh"), action], env=env, check=True)

    def start(self, *names: str) -> None:
        for name in names or ("redis", "elasticsearch"):
            self.script(name, "start")

    def stop(self, *names: str) -> None:
        for name in names or ("elasticsearch", "redis"):
            self.script(name, "stop")
