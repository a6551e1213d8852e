"""What the pages show, computed from search results, documents and status, without HTML
frameworks or a cluster: links that add or remove a filter, facet values with counts, the
date histogram, highlighted snippets, and an article body marked with its entity mentions
and summary sentences. The templates only lay these out (``templates/``)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from markupsafe import Markup, escape

from shared.heartbeat import Heartbeat
from shared.schemas import STAGES, ArticleDocument, Mention
from shared.search.models import SearchParams
from shared.search.outcomes import TAG_THE_REST
from shared.status import Status

# Query parameters of the search page that may repeat (filters); the others are single.
LIST_PARAMS = ("lang", "source", "entity", "dateline")
SINGLE_PARAMS = ("q", "since", "until", "sort", "page", "collapse")


@dataclass(frozen=True)
class Facet:
    field: str  # the facet's field in SearchResult.facets
    title: str
    param: str  # the query parameter a value filters by
    kind: str | None = None  # entity type, for param "entity" (TYPE=NAME)

    def value_of(self, key: str) -> str:
        return f"{self.kind}={key}" if self.kind else key


FACETS = (
    Facet("language", "Language", "lang"),
    Facet("source", "Source", "source"),
    Facet("entities.person", "People", "entity", "person"),
    Facet("entities.organization", "Organisations", "entity", "organization"),
    Facet("entities.location", "Places", "entity", "location"),
    Facet("dateline", "Dateline", "dateline"),
)
ENTITY_LABELS = {"person": "Person", "organization": "Organisation", "location": "Place", "misc": "Other"}
# The languages the language stage names most; anything else is shown by its code.
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fa": "Persian",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ru": "Russian",
    "tr": "Turkish",
    "ur": "Urdu",
    "zh": "Chinese",
    "und": "Undetermined",
}


def language_name(code: str | None) -> str:
    if not code:
        return "unknown"
    return LANGUAGE_NAMES.get(code.lower(), code.upper())


# --- the search page's state in its URL ------------------------------------------------------


@dataclass(frozen=True)
class PageState:
    """The search page's query parameters: what the form and every link carry."""

    items: tuple[tuple[str, str], ...]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> PageState:
        known = set(LIST_PARAMS) | set(SINGLE_PARAMS)
        kept: list[tuple[str, str]] = []
        for key, value in pairs:
            if key in known and value.strip() and (key, value) not in kept:
                kept.append((key, value))
        return cls(tuple(kept))

    def get(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.items if k == key), default)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]

    def has(self, key: str, value: str) -> bool:
        return (key, value) in self.items

    def url(self, path: str = "/") -> str:
        return f"{path}?{urlencode(self.items)}" if self.items else path

    def _replace(
        self, drop: Iterable[tuple[str, str | None]], add: Sequence[tuple[str, str]] = ()
    ) -> PageState:
        dropped = list(drop)

        def gone(k: str, v: str) -> bool:
            return any(k == dk and (dv is None or v == dv) for dk, dv in dropped)

        # Any change of what is searched starts again at page 1.
        kept = [(k, v) for k, v in self.items if not gone(k, v) and k != "page"]
        return PageState(tuple(kept + list(add)))

    def adding(self, key: str, value: str) -> PageState:
        if key in SINGLE_PARAMS:
            return self._replace([(key, None)], [(key, value)])
        return self._replace([(key, value)], [(key, value)])

    def removing(self, key: str, value: str | None = None) -> PageState:
        return self._replace([(key, value)])

    def at_page(self, page: int) -> PageState:
        kept = [(k, v) for k, v in self.items if k != "page"]
        return PageState(tuple(kept + ([("page", str(page))] if page > 1 else [])))

    def params(self) -> dict[str, object]:
        """Keyword arguments of ``SearchParams`` (validated there, with its messages)."""
        found: dict[str, object] = {key: self.getlist(key) for key in LIST_PARAMS if self.getlist(key)}
        for key in SINGLE_PARAMS:
            value = self.get(key)
            if value:
                found[key] = value
        return found


def search_params(state: PageState, size: int) -> SearchParams:
    """The validated search, or ``ValidationError`` with the same messages as the API's."""
    return SearchParams.model_validate({"size": size, **state.params()})


@dataclass(frozen=True)
class Download:
    label: str
    url: str
    title: str  # what the file holds (the link's tooltip and accessible description)


def export_links(state: PageState) -> list[Download]:
    """The page's results to take away: ``/export`` (CSV, JSON Lines) and the facet counts
    and histogram as CSV, each with exactly this page's search parameters (not its page
    number: an export is the whole result set)."""
    kept = [(k, v) for k, v in state.items if k != "page"]

    def url(path: str, *first: tuple[str, str]) -> str:
        pairs = [*first, *kept]
        return f"{path}?{urlencode(pairs)}" if pairs else path

    every = "one per story" if state.get("collapse").lower() in ("true", "1", "on") else "copies included"
    return [
        Download("CSV", url("/export", ("format", "csv")), f"Every matching article as CSV ({every})"),
        Download(
            "JSON Lines",
            url("/export", ("format", "jsonl")),
            f"Every matching article as JSON Lines ({every})",
        ),
        Download("Facets CSV", url("/export/facets.csv"), "The counts in the Refine column as CSV"),
        Download(
            "Histogram CSV", url("/export/histogram.csv"), "Articles per period, as in the chart, as CSV"
        ),
    ]


@dataclass(frozen=True)
class Chip:
    label: str
    remove_url: str


def chips(state: PageState) -> list[Chip]:
    """The active filters, each with the link that removes it."""
    found = []
    for key, value in state.items:
        if key == "lang":
            label = f"Language: {language_name(value)}"
        elif key == "source":
            label = f"Source: {value}"
        elif key == "dateline":
            label = f"Dateline: {value}"
        elif key == "entity":
            kind, _, name = value.partition("=")
            label = f"{ENTITY_LABELS.get(kind.strip().lower(), 'Entity')}: {name.strip() or kind}"
        elif key == "since":
            label = f"From {value}"
        elif key == "until":
            label = f"Until {value}"
        else:
            continue
        found.append(Chip(label=label, remove_url=state.removing(key, value).url()))
    return found


@dataclass(frozen=True)
class FacetValue:
    label: str
    count: int
    url: str  # adds the filter, or removes it when active
    active: bool


@dataclass(frozen=True)
class FacetView:
    facet: Facet
    values: list[FacetValue]


def facet_views(state: PageState, facets: dict[str, dict[str, int]]) -> list[FacetView]:
    views = []
    for facet in FACETS:
        values = []
        for key, count in facets.get(facet.field, {}).items():
            value = facet.value_of(key)
            active = state.has(facet.param, value)
            target = state.removing(facet.param, value) if active else state.adding(facet.param, value)
            label = language_name(key) if facet.param == "lang" else key
            values.append(FacetValue(label=label, count=count, url=target.url(), active=active))
        views.append(FacetView(facet=facet, values=values))
    return views


# --- the date histogram --------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str  # "Jul 2023", "22 Jul 2023" ...
    count: int
    height: float  # percent of the tallest bar
    url: str


def _label(key: str) -> str:
    """A date bucket's name (``2023``, ``2023-07``, ``2023-07-22``) in words."""
    parts = key.split("-")
    if len(parts) == 1:
        return key
    moment = datetime(int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 1)
    return f"{moment:%b %Y}" if len(parts) == 2 else f"{moment.day} {moment:%b %Y}"


def histogram(state: PageState, counts: dict[str, int]) -> list[Bar]:
    """One bar per date bucket; a bar keeps only its period (since = until = the bucket)."""
    if not counts:
        return []
    tallest = max(counts.values()) or 1
    return [
        Bar(
            label=_label(key),
            count=count,
            height=round(100 * count / tallest, 1) if count else 0.0,
            url=state.adding("since", key).adding("until", key).url(),
        )
        for key, count in counts.items()
    ]


# --- hits ------------------------------------------------------------------------------------

_EM = re.compile(r"(</?em>)")


def highlighted(fragment: str) -> Markup:
    """A highlight fragment as safe HTML: the text escaped, Elasticsearch's <em> marks kept
    (as <mark>). The article text itself can never inject markup."""
    out, inside = [], False
    for part in _EM.split(fragment):
        if part == "<em>":
            inside = True
        elif part == "</em>":
            inside = False
        elif part:
            out.append(f"<mark>{escape(part)}</mark>" if inside else str(escape(part)))
    return Markup("".join(out))


def new_snippets(fragments: Sequence[str], summary: str | None, limit: int = 2) -> list[str]:
    """Body fragments that show more than the summary already does (the summary is made of
    body sentences, so the best fragment is often inside it)."""
    plain_summary = " ".join((summary or "").split())
    found = []
    for fragment in fragments:
        plain = " ".join(_EM.sub("", fragment).split())
        if plain and plain not in plain_summary:
            found.append(fragment)
    return found[:limit]


def page_numbers(page: int, total: int, size: int, window: int = 2) -> list[int | None]:
    """Pages to link (None: a gap), e.g. [1, None, 4, 5, 6, None, 20]."""
    if size <= 0:
        return []
    pages = max(1, math.ceil(total / size))
    shown = sorted({1, pages, *range(max(1, page - window), min(pages, page + window) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and isinstance(out[-1], int) and number - out[-1] > 1:
            out.append(None)
        out.append(number)
    return out


# --- the article view ----------------------------------------------------------------------------


@dataclass
class Segment:
    """A run of body text with the same marks: in a summary sentence or not, in a mention or not."""

    text: str
    summary: bool = False
    mention: Mention | None = None


@dataclass
class MarkedBody:
    segments: list[Segment] = field(default_factory=list)
    ignored_mentions: int = 0  # mentions whose offsets do not fit the body (an older enrichment)


def marked_body(document: ArticleDocument) -> MarkedBody:
    """The body cut at every mention and summary-sentence boundary.

    Mentions and summary sentences come with character offsets into ``body`` (from the
    entities and summary stages). A mention whose text is not at its offsets is left out
    (and counted), never shown in the wrong place; a summary span outside the body is
    left out.
    """
    body = document.body
    summary = [(start, end) for start, end in document.summary_spans if 0 <= start < end <= len(body)]
    mentions: list[Mention] = []
    ignored = 0
    taken_until = 0
    for mention in sorted(document.mentions, key=lambda m: (m.start, -m.end)):
        fits = (
            0 <= mention.start < mention.end <= len(body)
            and body[mention.start : mention.end] == mention.text
        )
        if not fits or mention.start < taken_until:  # wrong offsets, or overlapping another
            ignored += 1
            continue
        mentions.append(mention)
        taken_until = mention.end

    cuts = {0, len(body)}
    for start, end in summary:
        cuts |= {start, end}
    for mention in mentions:
        cuts |= {mention.start, mention.end}
    points = sorted(cuts)
    result = MarkedBody(ignored_mentions=ignored)
    m_index = 0
    for start, end in zip(points, points[1:], strict=False):
        if start == end:
            continue
        while m_index < len(mentions) and mentions[m_index].end <= start:
            m_index += 1
        inside = mentions[m_index] if m_index < len(mentions) and mentions[m_index].start <= start else None
        in_summary = any(s <= start and end <= e for s, e in summary)
        segment = Segment(text=body[start:end], summary=in_summary, mention=inside)
        last = result.segments[-1] if result.segments else None
        if last is not None and last.summary == segment.summary and last.mention is None and inside is None:
            last.text += segment.text
        else:
            result.segments.append(segment)
    return result


def short_date(moment: datetime | None) -> str:
    return f"{moment.day} {moment:%b %Y}" if moment else ""


_DOC_ID = re.compile(r"^[0-9a-f]{32}$")


def is_document_id(value: str) -> bool:
    return bool(_DOC_ID.match(value))


# What a browser would drop from or act on inside a URL (C0 controls, space, DEL): a URL
# holding one is never shown as a link, so "java\tscript:" cannot pass as something else.
_URL_CONTROLS = re.compile(r"[\x00-\x20\x7f]")
LINK_SCHEMES = ("http", "https")


def safe_link(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL, else None (never a link).

    The URL comes from an article file, so it is anyone's: ``javascript:``, ``data:`` or
    ``vbscript:`` would run in the reader's page. Checked when the page is drawn, so documents
    indexed before any check at intake are safe too."""
    if not url or _URL_CONTROLS.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced [ in the host
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return None
    return url


_PATH_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def local_path(value: str | None, default: str = "/") -> str:
    """Where to go after logging in: a path on this site, never another site (``//host``,
    ``https://...``, a backslash some browsers read as a slash, control characters)."""
    if not value or _PATH_CONTROLS.search(value) or "\\" in value or not value.startswith("/"):
        return default
    try:
        parts = urlsplit(value)
    except ValueError:
        return default
    if parts.scheme or parts.netloc or value.startswith("//"):
        return default
    return value


def back_link(value: str | None) -> str:
    """Where the article page's "Back to the search" goes: the search page with the search
    ``value`` names (the ``back`` query parameter result links carry), rebuilt from its known
    parameters; anything else (another site, ``//host``, ``javascript:``, another page) is
    the search page itself. Never taken from ``Referer``, which any site can set."""
    if not value or _URL_CONTROLS.search(value):
        return "/"
    parts = urlsplit(local_path(value))
    if parts.path != "/":
        return "/"
    return PageState.from_pairs(parse_qsl(parts.query)).url("/")


def original_path(source_path: str, inbox: Path) -> str:
    """Where the file is: inbox-relative paths under the inbox, absolute ones as they are."""
    return source_path if source_path.startswith("/") else str(inbox / source_path)


@dataclass(frozen=True)
class StageRow:
    stage: str
    status: str  # ok, failed, skipped, or "not run"
    model: str
    version: str
    seconds: str
    at: str
    error: str
    note: str = ""  # how much of the body the stage read, when not all of it


def stage_rows(document: ArticleDocument) -> list[StageRow]:
    rows = []
    for stage in STAGES:
        record = getattr(document.provenance, stage)
        if record is None:
            rows.append(StageRow(stage, "not run", "", "", "", "", ""))
            continue
        note = ""
        if record.covered_chars is not None:
            note = (
                f"Read the body's first {record.covered_chars:,} of {len(document.body):,} characters: "
                f"{TAG_THE_REST}."
            )
        rows.append(
            StageRow(
                stage=stage,
                status=record.status,
                model=record.model or "",
                version=record.version or "",
                seconds=f"{record.seconds:.2f} s",
                at=f"{record.at:%Y-%m-%d %H:%M:%S} UTC",
                error=record.error or "",
                note=note,
            )
        )
    return rows


# --- the pipeline page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerRow:
    process: str
    node: str
    state: str  # starting, running
    stages: list[tuple[str, str, str]]  # (stage, model, "loaded" / "starting" / "model missing: ...")
    tasks_done: int


@dataclass(frozen=True)
class RateBar:
    label: str
    count: int
    height: float


@dataclass(frozen=True)
class PipelineView:
    counts: list[tuple[str, int, str]]  # (label, number, css class)
    bars: list[RateBar]
    rate: str
    eta: str
    workers: list[WorkerRow]
    services: list[Heartbeat]


def eta_words(seconds: float | None, backlog: int) -> str:
    if backlog == 0:
        return "nothing waiting"
    if seconds is None:
        return "unknown: nothing was indexed in the last minutes"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def pipeline_view(status: Status) -> PipelineView:
    files = status.files
    counts = [
        ("queued", files.get("queued", 0), "queued"),
        ("processing", len(status.processing), "processing"),
        ("indexed", files.get("indexed", 0), "indexed"),
        ("failed", len(status.failed_files), "failed"),
    ]
    throughput = status.throughput
    bars: list[RateBar] = []
    rate = eta = ""
    if throughput is not None:
        tallest = max((m.indexed for m in throughput.minutes), default=0) or 1
        bars = [
            RateBar(
                label=f"{m.minute:%H:%M} UTC", count=m.indexed, height=round(100 * m.indexed / tallest, 1)
            )
            for m in throughput.minutes
        ]
        rate = f"{throughput.rate_per_minute:g} documents per minute"
        eta = eta_words(throughput.eta_seconds, throughput.backlog)
    workers = []
    for beat in status.workers:
        stages: list[tuple[str, str, str]] = []
        details = beat.worker_details
        for stage, info in details.stages.items():
            readiness = info.readiness(beat.state)
            state = f"{readiness}: {info.error}" if readiness == "model missing" else readiness
            stages.append((stage, info.model or "", state))
        workers.append(
            WorkerRow(
                process=f"{beat.host}:{beat.pid}",
                node=details.node,
                state=beat.state,
                stages=stages,
                tasks_done=details.tasks_done,
            )
        )
    return PipelineView(
        counts=counts, bars=bars, rate=rate, eta=eta, workers=workers, services=status.services
    )
