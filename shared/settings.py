"""Every setting of every service, in one place.

Each field is read from the environment as ``DATELINE_<NAME>`` (or from a ``.env`` file);
the defaults suit one machine running the local services that ``deploy/local`` starts.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_IGNORE_PATTERNS = [
    ".*",  # hidden files and folders
    "*.part",
    "*.partial",
    "*.tmp",
    "*.temp",
    "*.crdownload",
    "*.download",
    "*.swp",
    "*.swx",
    "*~",
    "~$*",
    "#*#",
    ".#*",
    "*.lock",
]


# One JVM option of settings.es_java_options: -XX:Name, -XX:+Name, -XX:Name=value, -Dname=value;
# and the whole setting: such options separated by spaces.
_JVM_OPTION = (
    r"(-XX:[+-]?[A-Za-z][A-Za-z0-9]*(=[A-Za-z0-9._:/,-]+)?|-D[A-Za-z][A-Za-z0-9._-]*=[A-Za-z0-9._:/,-]*)"
)
JVM_OPTIONS_PATTERN = rf"^ *({_JVM_OPTION}( +{_JVM_OPTION})*)? *$"

# After the soft time limit stops a stage, the task still hands the article on: this long at
# most, before the hard limit replaces the pool process.
TASK_HAND_ON_SECONDS = 15


LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
# Values copied from examples and templates, never real secrets.
PLACEHOLDER_SECRETS = {
    "changeme",
    "change-me",
    "change_me",
    "password",
    "passwd",
    "secret",
    "example",
    "placeholder",
    "default",
    "todo",
    "none",
    "null",
    "redis",
    "elastic",
    "admin",
    "test",
    "xxx",
    "123456",
}


def split_urls(value: str) -> list[str]:
    """``"http://a:9200, http://b:9200"`` -> both URLs."""
    return [part.strip() for part in value.split(",") if part.strip()]


def is_loopback(url: str) -> bool:
    """Whether a URL names this machine's loopback (or a unix socket): the only place where
    Redis and Elasticsearch may run without secrets."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return True
    host = (parsed.hostname or "").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_placeholder(secret: str | None) -> bool:
    """Empty, or a value from an example: ``change-me``, ``<password>``, ``${REDIS_PASSWORD}``."""
    text = unquote(secret or "").strip()
    if not text:
        return True
    lowered = text.lower()
    return (
        lowered in PLACEHOLDER_SECRETS
        or lowered.startswith(("change", "your-", "your_"))
        or (text[0], text[-1]) in {("<", ">"), ("{", "}"), ("[", "]")}
        or text.startswith("${")
        or len(set(text)) == 1
    )


def _why(secret: str | None) -> str:
    return (
        "missing" if not (secret or "").strip() else "the value given is a placeholder: generate a real one"
    )


def used_by(*services: str) -> dict[str, Any]:
    """Mark a setting as read only by these services (``dateline stack up`` restarts just
    those when it changes). Unmarked settings concern every service."""
    return {"used_by": list(services)}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DATELINE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- where things are -------------------------------------------------------------
    inbox: Path = Field(Path("inbox"), description="Watched folder; files are never modified.")
    data_dir: Path = Field(
        Path(".dateline"), description="Local service data, logs and pid files (not the inbox)."
    )

    # --- services ---------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6390/0"
    elasticsearch_url: str = "http://127.0.0.1:9250"
    index: str = Field("articles", description="Alias that searches and writes go through.")
    api_host: str = Field("127.0.0.1", json_schema_extra=used_by("api"))
    api_port: int = Field(8000, json_schema_extra=used_by("api"))
    api_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1"],
        description="Host names the API answers to (comma-separated; '*' for any). Requests naming "
        "another host get 400: a web page cannot reach the API through DNS rebinding.",
        json_schema_extra=used_by("api"),
    )

    # --- ingest -----------------------------------------------------------------------
    stable_seconds: float = Field(
        2.0,
        description="A file is read only after size and mtime stayed unchanged this long.",
        json_schema_extra=used_by("ingest"),
    )
    rescan_seconds: float = Field(
        30.0, description="Period of the full inbox rescan.", json_schema_extra=used_by("ingest")
    )
    max_file_mb: float = Field(20.0, json_schema_extra=used_by("ingest"))
    ignore_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IGNORE_PATTERNS), json_schema_extra=used_by("ingest")
    )
    on_delete: Literal["remove", "keep"] = Field("remove", json_schema_extra=used_by("ingest"))
    ingest_tick_seconds: float = Field(
        0.5,
        description="How often the watcher checks pending files for stability.",
        json_schema_extra=used_by("ingest"),
    )
    source_from_folder: bool = Field(
        True,
        description="A document's source is the publisher the file names itself (JSON/front-matter "
        "'source' ...); failing that, with this on, the first folder under the inbox "
        "(inbox/Reuters/a.txt -> Reuters). Off: only the file's own metadata.",
        json_schema_extra=used_by("ingest"),
    )

    # --- limits: what one file, article or message may hold (README: "Bad input") ------
    # Each bounds the work one file can cause; past it the file (or the part) fails with a
    # reason naming the setting, and nothing else is affected.
    max_article_chars: int = Field(
        2_000_000,
        gt=0,
        description="Characters of one article's cleaned text; a longer article fails with the "
        "count (split it, or raise this).",
        json_schema_extra=used_by("ingest"),
    )
    max_articles_per_file: int = Field(
        10_000,
        gt=0,
        description="Articles one file (JSON list, JSON Lines) may hold; a larger file fails "
        "as a whole (split it into several files).",
        json_schema_extra=used_by("ingest"),
    )
    max_nesting: int = Field(
        32,
        gt=0,
        description="Depth of nested lists/objects in JSON and YAML front matter; deeper "
        "structures are refused before they are built.",
        json_schema_extra=used_by("ingest"),
    )
    max_yaml_aliases: int = Field(
        0,
        ge=0,
        description="YAML aliases (*name) allowed in Markdown front matter. 0 refuses them: article "
        "metadata never needs them, and alias expansion ('billion laughs') turns a few bytes "
        "into gigabytes.",
        json_schema_extra=used_by("ingest"),
    )
    max_failure_lines: int = Field(
        5,
        gt=0,
        description="Bad parts of one file (JSON Lines lines, list items) quoted in its one failure "
        "record; the rest are counted.",
        json_schema_extra=used_by("ingest"),
    )
    max_date_chars: int = Field(
        64,
        gt=0,
        description="Longest date string handed to date parsing; a longer value is not a date "
        "and is ignored (noted in provenance).",
        json_schema_extra=used_by("ingest"),
    )
    max_message_mb: float = Field(
        16.0,
        gt=0,
        description="Size of one queue message (an article and its enrichment); a larger one fails "
        "its file at once instead of straining Redis and the workers.",
        json_schema_extra=used_by("ingest", "worker", "indexer"),
    )
    search_exact_max: int = Field(
        100_000,
        ge=1,
        description="A search matching more documents than this counts its total and facets on a "
        "sample of its stories (about search_sample_documents of them), scaled up and shown as "
        "estimates: counting every match costs time in proportion to the matches.",
        json_schema_extra=used_by("api"),
    )
    search_sample_documents: int = Field(
        20_000,
        ge=100,
        description="About how many matching documents a sampled search counts (see search_exact_max).",
        json_schema_extra=used_by("api"),
    )
    highlight_max_chars: int = Field(
        500_000,
        gt=0,
        le=1_000_000,
        description="Characters of a document's body that search highlights are looked for in. "
        "Elasticsearch refuses to highlight past its index limit (1,000,000), so one huge "
        "article would otherwise break every search it matches.",
        json_schema_extra=used_by("api"),
    )

    # --- workers ----------------------------------------------------------------------
    ner_model: str = Field(
        "flair/ner-english-fast",
        description="Default NER model: a flair hub name (fetched from the model hub) or a local "
        ".pt path. It tags the languages it was trained for (and undetermined ones).",
        json_schema_extra=used_by("worker"),
    )
    model_dir: Path | None = Field(
        None,
        description="Folder that local NER model files (.pt) must be in; default <data_dir>/models. "
        "flair models are pickles, and unpickling runs code, so a model path outside this folder "
        "and the model hub's cache is refused.",
        json_schema_extra=used_by("worker"),
    )
    ner_models: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description='Per-language NER models, e.g. {"de": "flair/ner-german"}; they override what '
        'models declare ("" for a language: never tag it).',
        json_schema_extra=used_by("worker"),
    )
    ner_quantize: bool = Field(
        True,
        description="On CPU, run the NER model's recurrent layers (and a transformer's Linear "
        "layers) in int8; off, or on a GPU, fp32.",
        json_schema_extra=used_by("worker"),
    )
    entity_aliases: Path | None = Field(
        None,
        description="YAML/JSON file mapping canonical entity names to their aliases (added to "
        "the built-in countries and news aliases).",
        json_schema_extra=used_by("worker", "api"),
    )
    ner_batch_size: int = Field(
        8,
        ge=1,
        description="Sentences per NER batch. Small batches pad each sentence less to the longest "
        "in its batch (the character LMs read every padded character); measured with make bench.",
        json_schema_extra=used_by("worker"),
    )
    ner_max_chars: int = Field(
        50_000,
        gt=0,
        description="Characters of an article's body the entity stage tags: the sentences from the "
        "start up to this many (a longer first sentence is cut here). Provenance records how far "
        "tagging went. NER's time grows with the text (0.1 ms per character with the fast int8 "
        "model on a recent core, up to 1 ms on an old one): without a bound, an article of a "
        "million characters outruns the task's time limit and gets no entities at all.",
        json_schema_extra=used_by("worker"),
    )
    summary_sentences: int = Field(3, json_schema_extra=used_by("worker"))
    torch_threads: int = Field(
        1, description="Torch threads per worker process.", json_schema_extra=used_by("worker")
    )
    worker_concurrency: int = Field(
        0,
        ge=0,
        description="Pool processes per worker; 0: one per core this machine lets the worker use. Each "
        "process loads every model of the stages it serves (all three: about 1.2 GB with the default "
        "models), so on a machine with many cores and little memory set it lower. make bench measures "
        "why one process per core serving every stage is the default on one machine.",
        json_schema_extra=used_by("worker"),
    )
    task_max_retries: int = Field(
        2,
        ge=0,
        description="Times an article's stage is started again after the worker process running it "
        "died (killed, out of memory, the hard time limit) before the stage is skipped, with the "
        "reason in the document's provenance.",
        json_schema_extra=used_by("worker"),
    )
    task_visibility_timeout: int = Field(
        90,
        gt=0,
        description="Seconds before a task taken by a worker that vanished (killed, host lost) "
        "is delivered again; longer than a task may run (the soft time limit plus "
        "TASK_HAND_ON_SECONDS), so a live worker's task is never delivered twice.",
        json_schema_extra=used_by("worker"),
    )

    # --- stories (README: "Stories, not copies") -----------------------------------------
    story_threshold: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="Estimated Jaccard similarity of two bodies' word 3-shingles (MinHash) from which "
        "they are one story. Chosen with `make eval` over the labelled versions and same-subject "
        "negatives; changing it applies to articles indexed afterwards (`dateline reprocess` regroups).",
        json_schema_extra=used_by("indexer"),
    )

    # --- watches, alerts and their delivery (README: "Watches and alerts") ---------------
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Where people reach the API and pages: the base of the links in alerts, "
        "webhooks, emails and feeds.",
        json_schema_extra=used_by("api", "delivery"),
    )
    api_token: SecretStr | None = Field(
        None,
        description="Token for every request that changes state (watches, uploads): "
        "'Authorization: Bearer TOKEN', or a session opened with it on the page's login. "
        "make setup writes a random one into .env. Unset: such requests are refused.",
        json_schema_extra=used_by("api"),
    )
    session_hours: float = Field(
        12.0,
        gt=0,
        description="How long a login on the page lasts (its cookie is signed with a key derived "
        "from DATELINE_API_TOKEN, so changing the token logs everyone out at once).",
        json_schema_extra=used_by("api"),
    )
    login_max_failures: int = Field(
        10,
        gt=0,
        description="Wrong tokens (login form or Bearer) one client address may send within "
        "login_failure_window_seconds; after that its changes and logins are refused (429) until "
        "the oldest failure leaves the window.",
        json_schema_extra=used_by("api"),
    )
    login_failure_window_seconds: float = Field(
        600.0,
        gt=0,
        description="The window login_max_failures counts in.",
        json_schema_extra=used_by("api"),
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 signature every webhook call carries "
        "(X-Dateline-Signature: sha256=HEX of the body). make setup writes a random one into .env.",
        json_schema_extra=used_by("delivery"),
    )
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Webhook hosts or networks (comma-separated: names, addresses, CIDR) allowed "
        "although they are loopback, link-local or private; every other such target is refused.",
        json_schema_extra=used_by("api", "delivery"),
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Seconds one webhook call may take.", json_schema_extra=used_by("delivery")
    )
    delivery_retry_max_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest wait between two tries of a failing webhook or email (the back-off "
        "doubles from 1 s up to this).",
        json_schema_extra=used_by("delivery"),
    )
    delivery_give_up_hours: float = Field(
        24.0,
        gt=0,
        description="A webhook or email still failing this long after its alert is marked failed "
        "(shown in status with the target's last answer); until then it is retried.",
        json_schema_extra=used_by("delivery"),
    )
    delivery_tick_seconds: float = Field(
        1.0,
        gt=0,
        description="How often delivery looks for alerts to send.",
        json_schema_extra=used_by("delivery"),
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server for alert emails; unset: watches cannot have an email.",
        json_schema_extra=used_by("api", "delivery"),
    )
    smtp_port: int = Field(25, gt=0, lt=65536, json_schema_extra=used_by("delivery"))
    smtp_username: str | None = Field(None, json_schema_extra=used_by("delivery"))
    smtp_password: SecretStr | None = Field(None, json_schema_extra=used_by("delivery"))
    smtp_starttls: bool = Field(
        False, description="Upgrade the SMTP connection with STARTTLS.", json_schema_extra=used_by("delivery")
    )
    smtp_from: str = Field(
        "Dateline <dateline@localhost>",
        description="Sender of alert emails.",
        json_schema_extra=used_by("delivery"),
    )
    export_page_size: int = Field(
        1000,
        gt=0,
        le=10_000,
        description="Documents an export reads per page (point in time + search_after).",
        json_schema_extra=used_by("api"),
    )
    watchlist_max_lines: int = Field(
        1000, gt=0, description="Lines one watchlist upload may hold.", json_schema_extra=used_by("api")
    )

    # --- every service ------------------------------------------------------------------
    heartbeat_seconds: float = Field(
        10.0, gt=0, description="Period of every process's heartbeat; the key lives three periods."
    )

    # --- indexer ----------------------------------------------------------------------
    # Both above 0: with 0, the indexer's read returns nothing, forever, and nothing is indexed.
    index_batch_size: int = Field(200, gt=0, json_schema_extra=used_by("indexer"))
    index_flush_seconds: float = Field(1.0, gt=0, json_schema_extra=used_by("indexer"))
    index_shards: int = 1
    index_replicas: int = 0
    index_refresh_interval: str = "1s"

    # --- the local stack (`dateline stack`; read by its supervisor, not by the services) --
    log_max_mb: float = Field(
        50.0,
        gt=0,
        description="A program's log under <data>/logs is rotated when it reaches this size.",
        json_schema_extra=used_by("stack"),
    )
    log_backups: int = Field(
        5,
        ge=0,
        description="Rotated logs kept per program (<name>.log.1 ...).",
        json_schema_extra=used_by("stack"),
    )
    es_heap: str = Field(
        "512m",
        pattern=r"^[0-9]+[kmgKMG]$",
        description="Heap of the local Elasticsearch node (-Xms/-Xmx).",
        json_schema_extra=used_by("stack"),
    )
    # Only -XX: and -D options, space-separated (JVM_OPTIONS_PATTERN, checked by
    # _jvm_options): the heap is es_heap's, and anything else (an agent, a class path) has
    # no business in a setting a .env can carry.
    es_java_options: str = Field(
        "",
        description=(
            "More JVM options of the local Elasticsearch node, space-separated -XX: or -D options "
            "(e.g. -XX:TieredStopAtLevel=1 for a node that lives minutes, as the tests' nodes do)."
        ),
        json_schema_extra=used_by("stack"),
    )

    # --- delivery bounds (README: "Delivery guarantees") ------------------------------------
    # With the defaults a dead worker's task is back on its queue within
    # task_visibility_timeout + RESTORE_SECONDS (shared/celery_app.py) = 100 s; a task that got
    # lost is queued again within reconcile_stuck_seconds + reconcile_seconds = 150 s.
    task_soft_time_limit: int = Field(
        60,
        gt=0,
        description="Seconds one task (one stage, or language and summary together) may run. Then "
        "the stage is stopped and recorded as failed in provenance, and the article is indexed "
        "without it. Sized on the slowest stage measured: NER of a long article with a large model.",
        json_schema_extra=used_by("worker"),
    )
    worker_proc_alive_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds a new worker pool process may take to load its models before Celery "
        "kills it as hung (Celery's default of 4 s is shorter than loading torch and a NER model).",
        json_schema_extra=used_by("worker"),
    )
    reconcile_seconds: float = Field(
        30.0,
        gt=0,
        description="Period of the reconciler's pass over articles in flight.",
        json_schema_extra=used_by("ingest"),
    )
    reconcile_stuck_seconds: float = Field(
        120.0,
        gt=0,
        description="An article in flight that has not moved for this long, that no live worker "
        "holds and that no queue holds, is queued again; longer than a task may run.",
        json_schema_extra=used_by("ingest"),
    )
    reconcile_audit_seconds: float = Field(
        300.0,
        gt=0,
        description="Period of the index audit: files registered as indexed whose documents the "
        "index behind the alias lacks (a new, wiped or renamed index) are queued again.",
        json_schema_extra=used_by("ingest"),
    )
    reconcile_max_requeues: int = Field(
        3,
        ge=1,
        description="Times the reconciler queues the same content of a file again before it marks "
        "the file failed with the reason (where it got stuck).",
        json_schema_extra=used_by("ingest"),
    )

    @model_validator(mode="after")
    def _delivery_bounds_fit(self) -> Settings:
        """A live worker's task must never look lost: it may run task_time_limit seconds."""
        limit = self.task_time_limit
        if self.task_visibility_timeout <= limit:
            raise ValueError(
                f"DATELINE_TASK_VISIBILITY_TIMEOUT ({self.task_visibility_timeout} s) must be longer than a "
                f"task may run ({limit} s: DATELINE_TASK_SOFT_TIME_LIMIT {self.task_soft_time_limit} s + "
                f"{TASK_HAND_ON_SECONDS} s to hand on), or a running task would be delivered twice"
            )
        if self.reconcile_stuck_seconds <= limit:
            raise ValueError(
                f"DATELINE_RECONCILE_STUCK_SECONDS ({self.reconcile_stuck_seconds:g} s) must be longer than a "
                f"task may run ({limit} s), or the reconciler would queue running articles again"
            )
        return self

    @property
    def task_time_limit(self) -> int:
        """The hard limit: the pool process running a task is replaced after this long."""
        return self.task_soft_time_limit + TASK_HAND_ON_SECONDS

    # --- security: credentials for Redis and Elasticsearch beyond this machine ------------
    # Redis takes its password in DATELINE_REDIS_URL (redis://:PASSWORD@host:6379/0).
    elasticsearch_username: str | None = Field(
        None, description="Elasticsearch user (basic authentication), with elasticsearch_password."
    )
    elasticsearch_password: SecretStr | None = Field(None, description="Password of elasticsearch_username.")
    elasticsearch_api_key: SecretStr | None = Field(
        None, description="Elasticsearch API key (the encoded form), instead of a user and password."
    )
    elasticsearch_ca_certs: Path | None = Field(
        None, description="CA certificate (PEM) that signed Elasticsearch's HTTPS certificate."
    )

    @field_validator("ner_models", mode="before")
    @classmethod
    def _model_map(cls, value: object) -> object:
        """JSON from the environment; an empty value means no per-language models."""
        if value in ("", None):
            return {}
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    'DATELINE_NER_MODELS must be a JSON object, e.g. {"de": "flair/ner-german"}'
                ) from exc
        return value

    @field_validator("es_java_options")
    @classmethod
    def _jvm_options(cls, value: str) -> str:
        """JVM_OPTIONS_PATTERN, refused with the option at fault rather than the pattern."""
        if re.fullmatch(JVM_OPTIONS_PATTERN, value):
            return value
        wrong = [o for o in value.split() if not re.fullmatch(_JVM_OPTION, o)] or [value]
        raise ValueError(
            f"{wrong[0]!r} is not taken; give only -XX: and -D options "
            "(letters, digits and ._:/,- in values), separated by spaces, e.g. "
            "-XX:TieredStopAtLevel=1 (the heap is DATELINE_ES_HEAP)"
        )

    @field_validator("api_allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        """Comma-separated from the environment; names are compared without case."""
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list):
            if not value:
                raise ValueError(
                    "DATELINE_API_ALLOWED_HOSTS is empty; list the host names the API is "
                    "reached by (e.g. 127.0.0.1,localhost), or '*' for any"
                )
            return [str(v).lower() for v in value]
        return value

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _webhook_hosts(cls, value: object) -> object:
        """Comma-separated from the environment; each a host name, an address or a network."""
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list):
            for item in value:
                if "/" in str(item):
                    try:
                        ipaddress.ip_network(str(item), strict=False)
                    except ValueError:
                        raise ValueError(
                            f"DATELINE_WEBHOOK_ALLOWED_HOSTS: {item!r} is not a network; write one like "
                            "10.0.0.0/8 or fd00::/8"
                        ) from None
            return [str(v).lower() for v in value]
        return value

    @field_validator("entity_aliases", mode="before")
    @classmethod
    def _alias_file(cls, value: object) -> object:
        """An empty value means no file; a named file must exist (its content is checked
        where it is read, with the line that is wrong)."""
        if value in ("", None):
            return None
        path = Path(str(value)).expanduser()
        if not path.is_file():
            raise ValueError(
                f"DATELINE_ENTITY_ALIASES={value} is not a file; point it at a YAML/JSON file "
                "mapping canonical names to aliases (e.g. 'United States: [US, USA]') or unset it"
            )
        return path

    @field_validator("elasticsearch_url")
    @classmethod
    def _elasticsearch_urls(cls, value: str) -> str:
        for url in split_urls(value):
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError(
                    f"{url!r} is not an Elasticsearch URL; write http(s)://HOST:PORT, several "
                    "separated by commas for the nodes of one cluster"
                )
            if parsed.username or parsed.password:
                raise ValueError(
                    "put Elasticsearch credentials in DATELINE_ELASTICSEARCH_USERNAME and "
                    "DATELINE_ELASTICSEARCH_PASSWORD (or DATELINE_ELASTICSEARCH_API_KEY), not in the URL"
                )
        return value

    @field_validator("elasticsearch_ca_certs")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_file():
            raise ValueError(
                f"the CA certificate {value} does not exist; give the PEM file that signed "
                "Elasticsearch's certificate"
            )
        return value

    @model_validator(mode="after")
    def _secrets_beyond_loopback(self) -> Settings:
        """Redis and Elasticsearch on this machine's loopback (the local stack) need no
        secrets; anywhere else they must have real ones: an empty value or a placeholder
        copied from an example is refused, before any client connects."""
        problems = []
        redis_url = urlparse(self.redis_url)
        if not is_loopback(self.redis_url) and is_placeholder(redis_url.password):
            problems.append(
                f"Redis at {redis_url.hostname} is not on this machine's loopback, so DATELINE_REDIS_URL needs "
                "its password: redis://:PASSWORD@HOST:PORT/DB (" + _why(redis_url.password) + ")"
            )
        if not all(is_loopback(url) for url in split_urls(self.elasticsearch_url)):
            key = self.elasticsearch_api_key
            password = self.elasticsearch_password
            if key is not None:
                if is_placeholder(key.get_secret_value()):
                    problems.append("DATELINE_ELASTICSEARCH_API_KEY " + _why(key.get_secret_value()))
            elif (
                is_placeholder(self.elasticsearch_username)
                or password is None
                or is_placeholder(password.get_secret_value())
            ):
                problems.append(
                    "Elasticsearch at " + ", ".join(split_urls(self.elasticsearch_url)) + " is not on this "
                    "machine's loopback, so it needs credentials: DATELINE_ELASTICSEARCH_USERNAME and "
                    "DATELINE_ELASTICSEARCH_PASSWORD, or DATELINE_ELASTICSEARCH_API_KEY ("
                    + (
                        _why(password.get_secret_value())
                        if password is not None and self.elasticsearch_username
                        else "missing"
                    )
                    + ")"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def elasticsearch_hosts(self) -> list[str]:
        """The node URLs in DATELINE_ELASTICSEARCH_URL (one, or several of one cluster)."""
        return split_urls(self.elasticsearch_url)

    def ner_model_for(self, language: str) -> str | None:
        """The NER model for a language: its own entry, else the default (None: skip)."""
        if language in self.ner_models:
            return self.ner_models[language] or None
        return self.ner_model or None

    @classmethod
    def names_used_by(cls, service: str) -> list[str]:
        """The settings ``service`` reads: those marked for it and every unmarked one."""
        names = []
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            services = extra.get("used_by")
            if not isinstance(services, list) or service in services:
                names.append(name)
        return names

    @property
    def worker_processes(self) -> int:
        """``worker_concurrency``, with 0 resolved to the cores this process may run on (a
        container's or taskset's limit, not the host's count)."""
        return self.worker_concurrency or len(os.sched_getaffinity(0))

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_message_bytes(self) -> int:
        return int(self.max_message_mb * 1024 * 1024)

    @property
    def model_path(self) -> Path:
        """The folder local model files must be in."""
        return (self.model_dir or self.data_dir / "models").expanduser().resolve()

    @property
    def inbox_path(self) -> Path:
        return self.inbox.expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
