"""Watches in Elasticsearch: making, listing and removing them, and the two indexes they need.

A watch is stored as a percolator document in ``<alias>-watches`` (see ``models.py``): its
``query`` field holds the watch's search built by the same code as search itself
(``shared.search.query.search_query``: the text within the filters for language, source,
dateline, dates and entities, ``entity_filter`` expanding an entity to every alias). The
watch index carries the article mapping of the index template (``build_mappings``), so a
watch is matched on the same analysis as a search over the archive.
"""

from __future__ import annotations

import builtins
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from elasticsearch import ApiError, BadRequestError, ConflictError, Elasticsearch, NotFoundError, helpers
from pydantic import ValidationError

from shared.schemas import ENTITY_TYPES, utcnow
from shared.search.errors import SearchInputError
from shared.search.index import ensure_index
from shared.search.models import SearchParams, SearchResult, input_errors
from shared.search.query import search, search_query, text_subfields, to_simple_syntax
from shared.search.template import build_mappings, language_analyzers_available
from shared.settings import Settings
from shared.watches.models import Alert, Watch, WatchFilters, WatchSpec, alert_index, watch_id, watch_index
from shared.watches.targets import TargetRefused, check_target

log = logging.getLogger(__name__)

# Article fields a percolated document does not need: never queried by a watch, and large
# (a vector of floats, hundreds of mention offsets).
UNMATCHED_FIELDS = ("vector", "mentions", "entity_list", "summary_sentences", "provenance")
SPEC_FIELDS = (
    "query",
    "lang",
    "source",
    "entity",
    "dateline",
    "since",
    "until",
    "webhook",
    "email",
    "email_mode",
)


class WatchInputError(ValueError):
    """The watch cannot be made as given; the message says what to change."""


class WatchExists(ValueError):
    """A watch of that name (ignoring case) exists already."""


def _keyword(ignore_above: int = 1024) -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": ignore_above}


def watch_mappings(languages: bool, percolator: bool = True) -> dict[str, Any]:
    """The watches' index: the article fields a percolator query reads (the article
    template's own mapping, so the same analysers), the percolator, and the watch itself.
    The watch's own fields sit under ``spec`` so they never mix with the article fields of
    the same names (``source``, ``dateline``) that percolation reads.

    ``percolator=False``: for a cluster without Elasticsearch's percolator module (the
    integration-test distribution has none): the query is kept, not indexed, and matching
    runs it against the written documents instead (``matching.py``)."""
    articles = build_mappings(languages)
    properties = {k: v for k, v in articles["properties"].items() if k not in UNMATCHED_FIELDS}
    properties.update(
        {
            "query": {"type": "percolator"} if percolator else {"type": "object", "enabled": False},
            "name": _keyword(),
            "created_at": {"type": "date"},
            "spec": {
                "properties": {
                    "query": {"type": "text", "fields": {"keyword": _keyword()}},
                    **{f: _keyword(4096) for f in SPEC_FIELDS if f != "query"},
                }
            },
        }
    )
    return {
        "dynamic": False,
        "_meta": {"project": "dateline", "kind": "watches", "percolator": percolator},
        "properties": properties,
    }


def has_percolator(es: Elasticsearch, index: str) -> bool | None:
    """Whether the watches' index ``index`` matches by percolator; None when it does not exist."""
    try:
        found = es.indices.get_mapping(index=index)
    except NotFoundError:
        return None
    for body in found.values():
        return bool(body["mappings"].get("properties", {}).get("query", {}).get("type") == "percolator")
    return None


def _delivery_mapping() -> dict[str, Any]:
    return {
        "properties": {
            "state": _keyword(),
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": "date"},
            "last_attempt_at": {"type": "date"},
            "delivered_at": {"type": "date"},
            "last_error": {"type": "text", "fields": {"keyword": _keyword()}},
        }
    }


def alert_mappings() -> dict[str, Any]:
    """The alerts' index: keywords and dates Kibana can chart (alerts per watch per day,
    deliveries by state), the article's title and summary as text."""
    return {
        "dynamic": False,
        "_meta": {"project": "dateline", "kind": "alerts"},
        "properties": {
            "id": _keyword(),
            "watch_id": _keyword(),
            "watch_name": _keyword(),
            "content_sha256": _keyword(),
            "matched_at": {"type": "date"},
            "article": {
                "properties": {
                    "id": _keyword(),
                    "title": {"type": "text", "fields": {"keyword": _keyword(512)}},
                    "url": _keyword(4096),
                    "source": _keyword(),
                    "published_at": {"type": "date"},
                    "dateline": _keyword(),
                    "entities": {"properties": {kind: _keyword(256) for kind in ENTITY_TYPES}},
                    "summary": {"type": "text"},
                    "source_path": _keyword(4096),
                    "story_id": _keyword(),
                    "link": _keyword(4096),
                }
            },
            "webhook": _delivery_mapping(),
            "email": _delivery_mapping(),
        },
    }


def feed_url(settings: Settings, name: str) -> str:
    return f"{settings.public_url.rstrip('/')}/watches/{quote(name, safe='')}/feed.atom"


def search_params(spec: WatchSpec, size: int = 10) -> SearchParams:
    """The search a watch saves, checked exactly as search checks it (``WatchInputError``)."""
    try:
        # The filters a watch saves are search's own fields (WatchFilters mirrors them).
        saved = spec.model_dump(include=set(WatchFilters.model_fields))
        return SearchParams(**saved, size=size, sort="date")
    except ValidationError as exc:
        raise WatchInputError(input_errors(exc)) from None
    except SearchInputError as exc:
        raise WatchInputError(str(exc)) from None


def percolator_query(
    params: SearchParams, subfields: frozenset[str], syntax: str = "query_string"
) -> dict[str, Any]:
    """The watch's search as one query over an article (search's query without scoring)."""
    try:
        return search_query(params, subfields, syntax)
    except SearchInputError as exc:
        raise WatchInputError(str(exc)) from None


class WatchStore:
    """The watches of the article alias ``alias`` (and their alerts' index)."""

    def __init__(self, es: Elasticsearch, alias: str, settings: Settings):
        self.es = es
        self.alias = alias
        self.settings = settings
        self.watches = watch_index(alias)
        self.alerts = alert_index(alias)

    # --- the indexes ------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create both indexes if missing. Idempotent; when two processes race, one creates
        and the other's ``resource_already_exists_exception`` means the same: it is there."""
        if not self.es.indices.exists(index=self.watches):
            languages = language_analyzers_available(self.es)
            try:
                self._create(self.watches, watch_mappings(languages))
            except BadRequestError as exc:
                if "percolator" not in str(exc):
                    raise
                log.warning(
                    "Elasticsearch has no percolator module (the integration-test distribution); "
                    "watches are matched by running their searches on each written batch instead"
                )
                self._create(self.watches, watch_mappings(languages, percolator=False))
        if not self.es.indices.exists(index=self.alerts):
            self._create(self.alerts, alert_mappings())

    def _create(self, index: str, mappings: dict[str, Any]) -> None:
        shards = {"number_of_shards": 1, "number_of_replicas": self.settings.index_replicas}
        try:
            self.es.indices.create(index=index, settings={"index": shards}, mappings=mappings)
            log.info("created index %s", index)
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise

    # --- watches ----------------------------------------------------------------------------
    def add(self, spec: WatchSpec) -> Watch:
        """Save ``spec`` as a watch; ``WatchExists`` when the name is taken, ``WatchInputError``
        saying what to change when the search, the webhook or the email cannot be used."""
        params = search_params(spec)
        updates: dict[str, Any] = {}
        if spec.webhook is not None and spec.webhook.strip():
            try:
                updates["webhook"] = check_target(spec.webhook, self.settings.webhook_allowed_hosts)
            except TargetRefused as exc:
                raise WatchInputError(f"webhook: {exc}") from None
        else:
            updates["webhook"] = None
        if spec.email is not None and spec.email.strip():
            if not self.settings.smtp_host:
                raise WatchInputError(
                    "email: this Dateline sends no email: no SMTP server is set. Set DATELINE_SMTP_HOST "
                    "(and DATELINE_SMTP_PORT) and restart, or leave the email out"
                )
            address = spec.email.strip()
            local, at, domain = address.rpartition("@")
            # No spaces, line breaks or other control characters: the address goes into a mail
            # header, where a line break would add headers of the sender's choosing.
            if (
                not at
                or not local
                or "." not in domain
                or any(c.isspace() or not c.isprintable() or c in "<>,;" for c in address)
            ):
                raise WatchInputError(f"email: {address!r} is not an address like name@example.org")
            updates["email"] = address
        else:
            updates["email"] = None
        # The article index too: a watch's query is built on its mapping (its language
        # sub-fields), and a watch made before the first article must still work.
        ensure_index(self.es, self.alias, self.settings)
        self.ensure()
        query = self._stored_query(params)
        watch = Watch(
            **spec.model_copy(update=updates).model_dump(),
            id=watch_id(spec.name),
            created_at=utcnow(),
            feed_url=feed_url(self.settings, spec.name),
        )
        body = {
            "query": query,
            "name": watch.name,
            "created_at": watch.created_at.isoformat(),
            "spec": watch.model_dump(mode="json", include=set(SPEC_FIELDS)),
        }
        try:
            # op_type=create: of two people making the same name at once, one gets it.
            self.es.index(
                index=self.watches, id=watch.id, document=body, op_type="create", refresh="wait_for"
            )
        except ConflictError:
            existing = self.get(spec.name)
            raise WatchExists(
                f"a watch named {existing.name if existing else spec.name!r} exists already (names "
                "ignore case); remove it first or choose another name"
            ) from None
        except BadRequestError as exc:
            raise WatchInputError(f"Elasticsearch cannot store this watch's search: {_reason(exc)}") from None
        return watch

    def _stored_query(self, params: SearchParams) -> dict[str, Any]:
        """The percolator query, in the syntax search would use: query_string, or the simple
        syntax when query_string cannot parse the text (search falls back the same way).
        Built for, and checked on, the index it runs on: the watches' (percolator) or the
        articles' (without one), so its language sub-fields are that index's."""
        target = self.watches if has_percolator(self.es, self.watches) else self.alias
        subfields = text_subfields(self.es, target)
        query = percolator_query(params, subfields)
        valid = self.es.indices.validate_query(index=target, query=query)
        if valid.get("valid"):
            return query
        simple = params.model_copy(update={"query": to_simple_syntax(params.query)})
        query = percolator_query(simple, subfields, syntax="simple")
        valid = self.es.indices.validate_query(index=target, query=query, explain=True)
        if not valid.get("valid"):
            reasons = "; ".join(str(e.get("error")) for e in valid.get("explanations", []) if e.get("error"))
            raise WatchInputError(
                f"query: Elasticsearch cannot run this query ({reasons or 'no reason given'})"
            )
        return query

    def list(self) -> list[Watch]:
        """Every watch, by name."""
        if not self.es.indices.exists(index=self.watches):
            return []
        found = [
            self._watch(hit["_id"], hit["_source"])
            for hit in helpers.scan(
                self.es, index=self.watches, query={"query": {"match_all": {}}}, _source_excludes=["query"]
            )
        ]
        return sorted(found, key=lambda w: w.name.casefold())

    def get(self, name: str) -> Watch | None:
        try:
            found = self.es.get(index=self.watches, id=watch_id(name), source_excludes=["query"])
        except NotFoundError:
            return None
        return self._watch(found["_id"], found["_source"])

    def remove(self, name: str) -> bool:
        """Remove the watch and its alerts (a watch made again under the name starts afresh);
        False when there was none."""
        ident = watch_id(name)
        try:
            self.es.delete(index=self.watches, id=ident, refresh="wait_for")
        except NotFoundError:
            return False
        if self.es.indices.exists(index=self.alerts):
            # A scan and a bulk delete rather than delete_by_query: that needs the reindex
            # module, which some clusters (the test distribution) lack.
            actions = (
                {"_op_type": "delete", "_index": self.alerts, "_id": hit["_id"]}
                for hit in helpers.scan(
                    self.es, index=self.alerts, query={"query": {"term": {"watch_id": ident}}}, _source=False
                )
            )
            helpers.bulk(self.es, actions, raise_on_error=False, refresh="wait_for")
        return True

    def backfill(self, watch: WatchSpec, size: int = 10) -> SearchResult:
        """What already matches the watch, newest first (the search it saves)."""
        return search(self.es, self.alias, search_params(watch, size=size))

    # --- alerts -----------------------------------------------------------------------------
    def alerts_of(self, name: str, page: int = 1, size: int = 20) -> tuple[int, builtins.list[Alert]]:
        """(total, one page of) the watch's alerts, newest first."""
        if not self.es.indices.exists(index=self.alerts):
            return 0, []
        found = self.es.search(
            index=self.alerts,
            query={"term": {"watch_id": watch_id(name)}},
            sort=[{"matched_at": "desc"}, {"id": "asc"}],
            from_=(page - 1) * size,
            size=size,
            track_total_hits=True,
        )
        alerts = [Alert.model_validate(hit["_source"]) for hit in found["hits"]["hits"]]
        return int(found["hits"]["total"]["value"]), alerts

    def _watch(self, ident: str, source: dict[str, Any]) -> Watch:
        spec = source.get("spec", {})
        return Watch(
            **spec,
            name=source["name"],
            id=ident,
            created_at=datetime.fromisoformat(source["created_at"]),
            feed_url=feed_url(self.settings, source["name"]),
        )


def _reason(exc: ApiError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error", {})
    causes = error.get("root_cause") or [error]
    return "; ".join(str(c.get("reason")) for c in causes if isinstance(c, dict)) or str(exc)
