"""One way to build an Elasticsearch client, so every service talks to the cluster alike:
the node URLs, credentials and CA certificate all come from the settings."""

from __future__ import annotations

from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elasticsearch import ApiError, Elasticsearch

from shared.search.errors import ArchiveFailure
from shared.settings import Settings, get_settings, split_urls


def retryable_status(status: int | None) -> bool:
    """Whether an Elasticsearch answer (a request's or a bulk item's HTTP status) is worth
    trying again: none at all (not reached), overloaded (429) or failing (5xx)."""
    return status is None or status == 429 or status >= 500


def make_client(
    url: str | None = None, *, timeout: float = 30.0, retries: int = 0, settings: Settings | None = None
) -> Elasticsearch:
    """A client for ``url`` (default: ``settings.elasticsearch_url``; several node URLs of one
    cluster separated by commas), with the credentials of ``settings`` (default: the
    process's settings).

    ``retries`` is 0 by default: callers that must not lose work (the indexer) run their own
    back-off loop and need to see a failure at once rather than after hidden retries. With
    several nodes, a request that cannot reach one node is sent on to the next (one retry
    per further node): a dead node costs a failover, not an error.
    """
    settings = settings or get_settings()
    hosts = split_urls(url or settings.elasticsearch_url)
    options: dict[str, Any] = {}
    if settings.elasticsearch_api_key is not None:
        options["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username and settings.elasticsearch_password is not None:
        options["basic_auth"] = (
            settings.elasticsearch_username,
            settings.elasticsearch_password.get_secret_value(),
        )
    if settings.elasticsearch_ca_certs is not None:
        options["ca_certs"] = str(settings.elasticsearch_ca_certs.expanduser())
    return Elasticsearch(
        hosts,
        request_timeout=timeout,
        max_retries=retries + len(hosts) - 1,
        retry_on_timeout=retries > 0,
        **options,
    )


def quick(es: Elasticsearch, timeout: float) -> Elasticsearch:
    """``es`` for a question that must be answered fast (status, health): ``timeout`` seconds
    and no retries, except failing over to the cluster's other nodes."""
    return es.options(request_timeout=timeout, max_retries=len(es.transport.node_pool.all()) - 1)


def describe_failure(exc: Exception) -> str:
    """What went wrong talking to Elasticsearch, in words for a person: never the client's
    exception class or the cluster's internal message (those go to the log)."""
    if isinstance(exc, ConnectionTimeout):
        return "did not answer in time"
    if isinstance(exc, TlsError):
        return "refused the TLS connection (check DATELINE_ELASTICSEARCH_CA_CERTS and the URL's https)"
    if isinstance(exc, TransportConnectionError):
        return "cannot be reached (is it running, and is the URL right?)"
    if isinstance(exc, ArchiveFailure):
        return f"failed to answer: {exc.cause}"
    if isinstance(exc, ApiError):
        status = exc.meta.status if exc.meta is not None else 0
        if status == 401:
            return (
                "refused the credentials (check DATELINE_ELASTICSEARCH_USERNAME and "
                "DATELINE_ELASTICSEARCH_PASSWORD, or DATELINE_ELASTICSEARCH_API_KEY)"
            )
        if status == 403:
            return "denied access: the Elasticsearch user lacks a privilege Dateline needs"
        if status == 429:
            return "is overloaded (too many requests); try again shortly"
        return f"answered with an error (HTTP {status})"
    return "failed"
