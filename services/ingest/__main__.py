"""``python -m services.ingest``: run the ingest service until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os

from services.ingest.watcher import run_service


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("DATELINE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run_service()


if __name__ == "__main__":
    main()
