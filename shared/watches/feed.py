"""A watch's Atom feed (feedgen): one entry per alert, newest first, for ordinary feed readers.

Entry ids are the alert's id as a URN: stable across requests, so a reader shows each alert
once however often it polls, and never twice for one article (there is one alert per watch
and text).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from feedgen.feed import FeedGenerator

from shared.settings import Settings
from shared.watches.models import Alert, Watch

FEED_ENTRIES = 50  # the newest alerts a feed carries (readers keep what they saw)


def search_url(settings: Settings, watch: Watch) -> str:
    """The search page showing what the watch watches (the feed's alternate link)."""
    pairs: list[tuple[str, str]] = [] if watch.query.strip() in ("", "*") else [("q", watch.query)]
    for key in ("lang", "source", "entity", "dateline"):
        pairs.extend((key, value) for value in getattr(watch, key))
    pairs.extend((key, value) for key in ("since", "until") if (value := getattr(watch, key)))
    pairs.append(("sort", "date"))
    return f"{settings.public_url.rstrip('/')}/?{urlencode(pairs)}"


def atom_feed(settings: Settings, watch: Watch, alerts: Sequence[Alert]) -> bytes:
    """The feed document (UTF-8 XML) of ``watch`` with ``alerts`` (newest first)."""
    feed = FeedGenerator()
    feed.id(f"urn:dateline:watch:{watch.id}")
    feed.title(f"Dateline: {watch.name}")
    feed.subtitle(f"Articles matching the watch {watch.name!r} ({watch.query})")
    feed.author({"name": "Dateline"})
    feed.link(href=watch.feed_url, rel="self", type="application/atom+xml")
    feed.link(href=search_url(settings, watch), rel="alternate", type="text/html")
    feed.generator("Dateline")
    feed.updated(max((a.matched_at for a in alerts), default=watch.created_at))
    for alert in alerts:
        article = alert.article
        entry = feed.add_entry(order="append")
        entry.id(f"urn:dateline:alert:{alert.id}")
        entry.title(article.title or article.source_path)
        entry.link(href=article.link, rel="alternate", type="text/html")
        if article.url:
            entry.link(href=article.url, rel="related")
        entry.published(article.published_at or alert.matched_at)
        entry.updated(alert.matched_at)
        if article.source:
            entry.author({"name": article.source})
        described = [p for p in (article.dateline, article.summary) if p]
        entry.summary(" - ".join(described) if described else article.title)
        for name in sorted(
            {*article.entities.person, *article.entities.organization, *article.entities.location}
        ):
            entry.category(term=name)
    result: bytes = feed.atom_str(pretty=True)
    return result
