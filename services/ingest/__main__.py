"""``python -m services.ingest``: run the ingest service until SIGTERM/SIGINT."""

from __future__ import annotations

from services.ingest.watcher import run_service
from shared.logging import setup_logging


def main() -> None:
    setup_logging("ingest")
    run_service()


if __name__ == "__main__":
    main()
