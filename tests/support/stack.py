"""A whole Dateline stack of real processes for one test module or benchmark run: the
programs of ``services/stack/topology.py`` under a supervisord of the stack's own.

Each stack gets its own Redis database and Elasticsearch alias, so stacks never share
queues, registry entries or documents.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import redis
from elasticsearch import Elasticsearch

from services.stack.supervisor import Supervisor
from services.stack.topology import PROGRAMS, dateline_program, priority_of
from shared.search.client import make_client
from shared.settings import Settings
from tests.support.indices import drop_dateline_index
from tests.support.processes import ServiceProcess

_databases = itertools.count()


class Stack:
    def __init__(
        self,
        *,
        redis_base_url: str,
        es_url: str,
        log_dir: Path,
        run_dir: Path,
        ner_model: str,
        inbox: Path,
        extra_env: dict[str, str] | None = None,
    ):
        db = 1 + next(_databases) % 15  # database 0 is left to the session fixtures
        self.redis_url = redis_base_url.rsplit("/", 1)[0] + f"/{db}"
        self.es_url = es_url
        self.alias = f"test-{uuid.uuid4().hex[:10]}"
        self.inbox = inbox
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            "DATELINE_REDIS_URL": self.redis_url,
            "DATELINE_ELASTICSEARCH_URL": es_url,
            "DATELINE_INDEX": self.alias,
            "DATELINE_INBOX": str(inbox),
            "DATELINE_NER_MODEL": ner_model,
            "DATELINE_STABLE_SECONDS": "0.5",
            "DATELINE_RESCAN_SECONDS": "5",
            "DATELINE_INDEX_FLUSH_SECONDS": "0.5",
            "DATELINE_INDEX_REFRESH_INTERVAL": "200ms",
            # One pool process per worker (the default is one per core): a test knows which
            # process holds an article, and stacks stay light on a shared machine. make bench
            # measures the default's sizing (tests/bench/topology.py).
            "DATELINE_WORKER_CONCURRENCY": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **(extra_env or {}),
        }
        self.supervisor = Supervisor(run_dir, log_dir, identifier=f"dateline-{self.alias}")
        self.processes: list[ServiceProcess] = []
        self.redis = redis.Redis.from_url(self.redis_url)
        self.redis.flushdb()
        # The stack's own credentials; several node URLs for a cluster (comma-separated).
        self.es: Elasticsearch = make_client(
            es_url,
            timeout=60.0,
            settings=Settings(
                _env_file=None,
                elasticsearch_url=es_url,
                elasticsearch_username=self.env.get("DATELINE_ELASTICSEARCH_USERNAME"),
                elasticsearch_password=self.env.get("DATELINE_ELASTICSEARCH_PASSWORD"),
            ),
        )

    def start(
        self,
        name: str,
        *args: str,
        env: dict[str, str] | None = None,
        autorestart: bool = False,
        launcher: Sequence[str] = (),
    ) -> ServiceProcess:
        """``dateline serve ARGS`` as program ``name``, with the stack's environment plus ``env``;
        through ``launcher`` when it runs elsewhere (a second host's namespace)."""
        if not self.supervisor.is_up():
            self.supervisor.launch()
        program = dateline_program(name, *args, priority=priority_of(name))
        if launcher:
            program = program.launched_by(launcher, name)
        process = ServiceProcess(
            self.supervisor, program, {**self.env, **(env or {})}, autorestart=autorestart
        ).start()
        self.processes.append(process)
        return process

    def start_workers(self, env: dict[str, str] | None = None) -> list[ServiceProcess]:
        """The workers of the topology: one serving every stage."""
        return [self.start(p.name, *p.serve_args, env=env) for p in PROGRAMS if p.service == "worker"]

    def start_indexer(self) -> ServiceProcess:
        return self.start("indexer", "indexer")

    def start_ingest(self) -> ServiceProcess:
        self.inbox.mkdir(parents=True, exist_ok=True)
        return self.start("ingest", "ingest")

    def count(self) -> int:
        if not self.es.indices.exists_alias(name=self.alias):
            return 0
        self.es.indices.refresh(index=self.alias)
        return int(self.es.count(index=self.alias)["count"])

    def documents(self) -> list[dict]:
        self.es.indices.refresh(index=self.alias)
        hits = self.es.search(index=self.alias, size=1000, query={"match_all": {}})["hits"]["hits"]
        return [h["_source"] | {"_id": h["_id"]} for h in hits]

    def stop(self) -> None:
        # supervisord stops what still runs, highest priority (ingest, api) first.
        self.supervisor.shutdown()
        drop_dateline_index(self.es, self.alias)
        self.redis.flushdb()
