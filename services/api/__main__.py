"""``python -m services.api``: serve the HTTP API on ``settings.api_host:api_port``."""

from __future__ import annotations

import uvicorn

from shared.logging import setup_logging
from shared.settings import get_settings


def main() -> None:
    setup_logging("api")
    settings = get_settings()
    uvicorn.run("services.api.app:app", host=settings.api_host, port=settings.api_port, log_level="info")


if __name__ == "__main__":
    main()
