"""``python -m services.delivery``: run the delivery service until SIGTERM or SIGINT."""

from __future__ import annotations

from services.delivery.service import build_delivery
from shared.logging import setup_logging
from shared.search.client import make_client
from shared.settings import get_settings


def main() -> None:
    setup_logging("delivery")
    settings = get_settings()
    build_delivery(settings, make_client(settings.elasticsearch_url)).run()


if __name__ == "__main__":
    main()
