"""``python -m services.indexer``: run the indexer until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading

from services.indexer.service import build_indexer
from shared.logging import setup_logging
from shared.registry import connect
from shared.search.client import make_client
from shared.settings import get_settings


def main() -> None:
    setup_logging("indexer")
    settings = get_settings()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    indexer = build_indexer(settings, make_client(settings.elasticsearch_url), connect(settings.redis_url), stop=stop)
    indexer.run()


if __name__ == "__main__":
    main()
