"""``python -m services.indexer``: run the indexer until SIGTERM or SIGINT."""

from __future__ import annotations

from services.indexer.service import build_indexer
from shared.logging import setup_logging
from shared.redis_client import connect
from shared.search.client import make_client
from shared.settings import get_settings


def main() -> None:
    setup_logging("indexer")
    settings = get_settings()
    build_indexer(settings, make_client(settings.elasticsearch_url), connect(settings.redis_url)).run()


if __name__ == "__main__":
    main()
