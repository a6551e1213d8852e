"""One way to build an Elasticsearch client, so every service talks to the cluster alike."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from shared.settings import get_settings


def make_client(url: str | None = None, *, timeout: float = 30.0, retries: int = 0) -> Elasticsearch:
    """A client for ``url`` (default: ``settings.elasticsearch_url``).

    ``retries`` is 0 by default: callers that must not lose work (the indexer) run their own
    back-off loop and need to see a failure at once rather than after hidden retries.
    """
    return Elasticsearch(
        url or get_settings().elasticsearch_url,
        request_timeout=timeout,
        max_retries=retries,
        retry_on_timeout=retries > 0,
    )

