"""Redis and Elasticsearch installed by ``deploy/local/*.sh install`` (idempotent; quick
once done), and where: the scripts print ``KEY=VALUE`` lines, so the Elasticsearch version,
its user and the JDK search stay defined in one place, the scripts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from services.stack.topology import ElasticsearchInstall, RedisInstall
from shared.paths import DEPLOY_DIR

SCRIPTS = DEPLOY_DIR / "local"


class InstallError(RuntimeError):
    pass


def _run(script: str, data_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    path = SCRIPTS / f"{script}.sh"
    # The scripts' messages (stderr) go straight to the terminal: a first install downloads.
    result = subprocess.run(
        ["bash", str(path), "install"],
        env={**environ, "DATELINE_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InstallError(
            f"{path} install failed (exit {result.returncode}); see the message above, "
            f"fix it and run `make setup`"
        )
    facts = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isupper():
            facts[key] = value
    return facts


def install_redis(data_dir: Path, environ: Mapping[str, str] | None = None) -> RedisInstall:
    facts = _run("redis", data_dir, os.environ if environ is None else environ)
    return RedisInstall(server=facts["REDIS_SERVER"], data=Path(facts["REDIS_DATA"]))


def install_elasticsearch(data_dir: Path, environ: Mapping[str, str] | None = None) -> ElasticsearchInstall:
    facts = _run("elasticsearch", data_dir, os.environ if environ is None else environ)
    return ElasticsearchInstall(
        home=Path(facts["ES_HOME"]),
        java_home=Path(facts["ES_JAVA_HOME"]),
        data=Path(facts["ES_DATA"]),
        logs=Path(facts["ES_LOGS"]),
        user=facts.get("ES_USER") or None,
    )
