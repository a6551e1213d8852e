"""Watches (saved searches) and the alerts they raise: the records every part of the
monitoring loop reads and writes (API, CLI, indexer, delivery, Kibana).

Both live in Elasticsearch next to the articles, so Kibana can chart them and every
indexer and delivery process on every host sees the same ones:

* ``<alias>-watches``: one document per watch, id ``watch_id(name)``. Its ``query`` field
  is a percolator holding the watch's search as a query over the article mapping, so the
  indexer matches each batch it writes against every watch in one request. (A cluster
  without the percolator module keeps the query unindexed and the indexer runs it on the
  written batch instead: ``store.watch_mappings``, ``matching.py``.)
* ``<alias>-alerts``: one document per (watch, text) pair, id ``alert_id(...)``, created
  with ``op_type=create``: a batch written twice, a reprocessed article or a copy of the
  same text finds the alert already there and raises nothing new. Each channel's delivery
  state lives in the alert (an outbox), so nothing matched is lost while a target is down.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.schemas import ArticleRef, Entities, utcnow

WATCH_NAME = re.compile(r"^[\w][\w .\-]{0,79}$")
Channel = Literal["webhook", "email"]
EmailMode = Literal["each", "hourly", "daily"]
DeliveryStateName = Literal["pending", "retrying", "delivered", "failed"]


def watch_index(alias: str) -> str:
    """The watches' index (percolator) for the article alias ``alias``."""
    return f"{alias}-watches"


def alert_index(alias: str) -> str:
    """The alerts' index for the article alias ``alias``."""
    return f"{alias}-alerts"


def watch_id(name: str) -> str:
    """A watch's document id: its name without case, so 'Ukraine' and 'ukraine' are one watch."""
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:24]


def alert_id(watch: str, content_sha256: str) -> str:
    """One alert per watch and text: a copy (same cleaned text) of an alerted article, the
    same article indexed again or reprocessed, all map to the same id."""
    return hashlib.sha256(f"{watch}\n{content_sha256}".encode()).hexdigest()[:32]


class WatchFilters(BaseModel):
    """The search a watch saves: the query and the same filters as search (shared/search/models.py
    ``SearchParams``; the page, size, sort and facets of a search do not apply)."""

    model_config = ConfigDict(extra="forbid")

    query: str = "*"
    lang: list[str] = Field(default_factory=list)
    source: list[str] = Field(default_factory=list)
    entity: list[str] = Field(default_factory=list)
    dateline: list[str] = Field(default_factory=list)
    since: str | None = None
    until: str | None = None


class WatchSpec(WatchFilters):
    """What a person gives to make a watch (API body, CLI arguments, the page's form)."""

    name: str = Field(description="Letters, digits, spaces, '.', '-' and '_'; at most 80 characters.")
    webhook: str | None = Field(None, description="http(s) URL that receives a signed POST per alert.")
    email: str | None = Field(None, description="Address that receives alerts by email.")
    email_mode: EmailMode = Field("each", description="One email per alert, or an hourly/daily digest.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not WATCH_NAME.match(value):
            raise ValueError(
                "a watch name is 1-80 letters, digits, spaces, '.', '-' or '_', starting with a "
                "letter or digit"
            )
        return value


class Watch(WatchSpec):
    """A stored watch (the ``<alias>-watches`` document without its percolator query)."""

    id: str
    created_at: datetime = Field(default_factory=utcnow)
    feed_url: str = Field(description="Its Atom feed: every alert, newest first.")

    def without_targets(self) -> Watch:
        """The watch as anyone may read it: where it delivers (webhook URL, email) left out."""
        return self.model_copy(update={"webhook": None, "email": None})


class AlertArticle(ArticleRef):
    """What an alert says about the article (a webhook's body carries it whole)."""

    url: str | None = None
    entities: Entities = Field(default_factory=Entities)
    summary: str | None = None
    story_id: str | None = None
    link: str = Field(description="The article's page on this Dateline.")


class Delivery(BaseModel):
    """One channel's delivery of one alert (the outbox entry delivery works through)."""

    state: DeliveryStateName = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = Field(
        None, description="The target's answer (status and body start) or the error."
    )


class Alert(BaseModel):
    """A watch matched an article: written once per (watch, text) by the indexer."""

    id: str
    watch_id: str
    watch_name: str
    content_sha256: str
    matched_at: datetime = Field(default_factory=utcnow)
    article: AlertArticle
    webhook: Delivery | None = None
    email: Delivery | None = None
