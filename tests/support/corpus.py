"""A generated inbox of mixed article files, with what Dateline must make of each one.

``build_mixed_corpus(root, outside)`` writes a realistic drop (plain text in several
encodings and line endings, Markdown, HTML pages, JSON objects and lists, JSON Lines,
exact duplicates, bad files and files that must be ignored) under ``root`` and returns
the expectations: every good article with its title, source, date and body excerpts,
every failure with its path, line and the words its reason must contain, and every
ignored file. The articles are built from the seeds in tests/fixtures/seeds, each with
its own title, lead paragraph, marker word and window of seed paragraphs, so no two
generated articles are alike (except the deliberate duplicates).

Every good article contains the word ``mixcorpus`` and its own marker word; ignored
files and the symlink's target contain ``ignoredmarker`` / ``secretmarker`` instead, so
a search shows at once whether any of them leaked into the index.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from tests.support.paths import SEEDS

CORPUS_WORD = "mixcorpus"
IGNORED_WORD = "ignoredmarker"
SECRET_WORD = "secretmarker"

OUTLETS = ("Reuters", "Dawn", "AP", "The Nation")
MOVED_OUTLET = "Express Tribune"  # this outlet's folder is moved into the inbox whole
PLACES = ("KARACHI", "PESHAWAR", "QUETTA", "LAHORE", "NEW YORK", "KABUL", "GWADAR")
TOPICS = (
    "Border trade talks resume",
    "Officials weigh new security plan",
    "Envoy briefs cabinet on peace process",
    "Tribal elders call for dialogue",
    "Provincial budget debate stalls",
    "Traders protest transit delays",
    "Ministers meet on water dispute",
)
# Accents and typographic punctuation, all of which cp1252 can encode.
ACCENTED = "the délégation from Zürich met at the Café Rouge, calling it a “naïve but necessary” step"

ENCODINGS = ("utf-8", "utf-8-bom", "utf-16", "cp1252", "utf-8-crlf", "cp1252-crlf")
# Words a failure's reason must contain, per kind of bad file (matched case-insensitively).
BAD_KINDS = {
    "empty": ["empty"],
    "blank": ["blank"],
    "binary": ["binary"],
    "undecodable": ["encoding", "utf-8"],
    "malformed": ["invalid json", "line"],
    "no-body": ["missing the article body", "articleBody"],
    "bad-item": ["item 3 of 4", "missing the article body"],
    "nav-only": ["no article text", "html"],
    "too-large": ["too large", "MB", "DATELINE_MAX_FILE_MB"],
    "pdf": ["unsupported", ".pdf"],
    "docx": ["unsupported", ".docx"],
    "symlink": ["symlink", "outside"],
    "jsonl-line": ["not valid json", "line"],
}
MAX_FILE_MB = "0.2"  # the stack's DATELINE_MAX_FILE_MB: the large file is about 0.3 MB


@dataclass
class Article:
    """One document the index must hold after the drop."""

    path: str  # inbox-relative source path
    record: int
    title: str
    source: str
    marker: str
    has: list[str]  # excerpts of the body (whitespace collapsed)
    lacks: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    dateline: str | None = None


@dataclass
class BadFile:
    path: str
    kind: str
    line: int | None = None

    @property
    def words(self) -> list[str]:
        return BAD_KINDS[self.kind]


@dataclass
class Corpus:
    root: Path  # copied into the inbox
    moved: Path  # a folder moved into the inbox as it is
    articles: list[Article] = field(default_factory=list)
    failures: list[BadFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)

    @property
    def article_files(self) -> set[str]:
        return {a.path for a in self.articles}

    @property
    def failed_files(self) -> set[str]:
        """Files that fail as a whole (no article in them)."""
        return {f.path for f in self.failures} - self.article_files


def collapse(text: str) -> str:
    return " ".join(text.split())


# --- seeds ----------------------------------------------------------------------------------


def seed_stories() -> list[list[str]]:
    """The story paragraphs of each seed, without titles, date lines and site chrome."""
    stories = []
    for seed in sorted(SEEDS.glob("*.txt")):
        lines = [line.strip() for line in seed.read_text(encoding="utf-8").split("\n")]
        paragraphs = [line for line in lines if line]
        if paragraphs[0] == "- File Photo":  # 001: caption first, headline list last
            paragraphs = paragraphs[1 : paragraphs.index("Opinion")]
        if paragraphs[0] == paragraphs[1]:  # 004: headline twice, "Foreign Policy" last
            paragraphs = paragraphs[2:-1]
        stories.append([p for p in paragraphs if not p.lower().startswith("date ")])
    return stories


SEED_WITH_CHROME = sorted(SEEDS.glob("*.txt"))[1]  # caption first, a site's headline list last


def encode(text: str, encoding: str) -> bytes:
    if encoding.endswith("-crlf"):
        text, encoding = text.replace("\n", "\r\n"), encoding.removesuffix("-crlf")
    if encoding == "utf-8-bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    return text.encode(encoding)  # "utf-16" writes a byte-order mark


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _lead(n: int, marker: str) -> tuple[str, str, str]:
    """(paragraph as written, its text after the dateline, the dateline place)."""
    place = PLACES[n % len(PLACES)]
    text = f"On day {n} of the {CORPUS_WORD} series, {ACCENTED}, officials said of agenda item {marker}."
    return f"{place} – {text}", text, place.title()


# --- the corpus -----------------------------------------------------------------------------


def build_mixed_corpus(root: Path, outside: Path, *, text_articles: int = 110) -> Corpus:
    corpus = Corpus(root=root / "drop", moved=root / "moved" / MOVED_OUTLET)
    stories = seed_stories()
    _text_articles(corpus, stories, text_articles)
    _duplicates(corpus, stories)
    _markdown(corpus, stories)
    _html(corpus, stories)
    _json(corpus, stories)
    _jsonl(corpus, stories)
    _bad_files(corpus, outside)
    _ignored(corpus)
    return corpus


def _window(stories: list[list[str]], n: int, size: int = 3) -> list[str]:
    story = stories[n % len(stories)]
    start = (n * 3) % max(1, len(story) - size)
    return story[start : start + size]


def _text_article(
    n: int, stories: list[list[str]], folder: str, rel: str, encoding: str
) -> tuple[str, Article]:
    marker = f"tx{n:03d}"
    title = f"{TOPICS[n % len(TOPICS)]} in report {marker}"
    lead, lead_text, place = _lead(n, marker)
    lines = [title, ""]
    published = None
    if n % 3 == 0:
        day = date(2021, 1, 1) + timedelta(days=n * 5)
        published = datetime(day.year, day.month, day.day, tzinfo=UTC)
        forms = (f"Published: {day:%d %B %Y}", f"date {day:%Y-%m-%d}", f"{day:%B} {day.day}, {day.year}")
        lines += [forms[(n // 3) % len(forms)], ""]
    lines += [lead, ""]
    if n % 2:
        lines += ["- File Photo", ""]  # a photo caption between paragraphs
    lacks = ["File Photo"]
    if n % 25 == 1:
        # The whole seed, with its caption and the site's trailing headline list.
        seed = SEED_WITH_CHROME.read_text(encoding="utf-8")
        lines.append(seed)
        window = stories[1][-2:]
        lacks += ["Updated 16 Apr, 2024", "Going off track", "On the margins"]
    else:
        window = _window(stories, n)
        for paragraph in window:
            lines += [paragraph, ""]
    text = "\n".join(lines) + "\n"
    if encoding.startswith("cp1252"):
        text.encode("cp1252")  # fails loudly if a seed ever gains a character cp1252 lacks
    article = Article(
        path=rel,
        record=0,
        title=title,
        source=folder,
        marker=marker,
        has=[collapse(lead_text), *map(collapse, window)],
        lacks=lacks,
        published_at=published,
        dateline=place,
    )
    return text, article


def _text_articles(corpus: Corpus, stories: list[list[str]], count: int) -> None:
    for n in range(count):
        if n % 10 == 9:
            root, folder = corpus.moved, MOVED_OUTLET
            rel_in_root = f"story-{n:03d}.txt"
        else:
            root, folder = corpus.root, OUTLETS[n % len(OUTLETS)]
            nested = f"{2020 + n % 4}/{n % 12 + 1:02d}/" if n % 7 == 0 else ""
            rel_in_root = f"{folder}/{nested}story-{n:03d}.txt"
        encoding = ENCODINGS[n % len(ENCODINGS)]
        rel = f"{folder}/{rel_in_root}" if root is corpus.moved else rel_in_root
        text, article = _text_article(n, stories, folder, rel, encoding)
        _write(root, rel_in_root, encode(text, encoding))
        corpus.articles.append(article)


def _duplicates(corpus: Corpus, stories: list[list[str]]) -> None:
    pairs = [
        ("Reuters/dup-original.txt", "Reuters/dup copy (1).txt"),
        ("AP/wire-story.txt", "Dawn/wire-story-reprint.txt"),
    ]
    for k, (first, second) in enumerate(pairs):
        n = 900 + k
        text, _ = _text_article(n, stories, "", first, "utf-8")
        for rel in (first, second):
            folder = rel.split("/", 1)[0]
            _, article = _text_article(n, stories, folder, rel, "utf-8")
            _write(corpus.root, rel, encode(text, "utf-8"))
            corpus.articles.append(article)
        corpus.duplicates.append((first, second))


def _markdown(corpus: Corpus, stories: list[list[str]]) -> None:
    for n in range(10):
        marker = f"md{n:02d}"
        folder = OUTLETS[n % len(OUTLETS)]
        rel = f"{folder}/notes-{n:02d}.md"
        title = f"{TOPICS[n % len(TOPICS)]}, notebook {marker}"
        lead, lead_text, place = _lead(200 + n, marker)
        window = _window(stories, 200 + n)
        link = "[the foreign ministry](https://example.org/mofa)"
        body = [f"{lead} A spokesman for {link} called the talks **very useful**.", ""]
        body += [p for para in window for p in (para, "")]
        source, published = folder, None
        if n % 2 == 0:
            day = date(2022, 5, n + 1)
            published = datetime(day.year, day.month, day.day, tzinfo=UTC)
            source = "Dawn Digital"
            text = (
                f'---\ntitle: "{title}"\ndate: {day.isoformat()}\nsource: {source}\n'
                "author: Staff Reporter\n---\n\n" + "\n".join(body)
            )
        else:
            text = f"# {title}\n\n" + "\n".join(body)
        _write(corpus.root, rel, encode(text, "utf-8"))
        excerpt = "A spokesman for the foreign ministry called the talks very useful."
        corpus.articles.append(
            Article(
                path=rel,
                record=0,
                title=title,
                source=source,
                marker=marker,
                has=[collapse(lead_text), excerpt, *map(collapse, window)],
                lacks=["](", "**", "example.org"],
                published_at=published,
                dateline=place,
            )
        )


HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} | {site}</title>
  <meta property="og:title" content="{title}">
  <meta property="og:site_name" content="{site}">
  <meta property="og:url" content="https://{host}/news/{marker}">
  <meta name="author" content="Amina Siddiqui">
  <meta property="article:published_time" content="{published}">
  <link rel="canonical" href="https://{host}/news/{marker}">
  <script>window.dataLayer = window.dataLayer || []; trackingSecretToken = "do-not-index-me";</script>
  <style>.ad {{ display: block; }}</style>
</head>
<body>
  <header>
    <nav class="main-nav">
      <ul>
        <li><a href="/">Home</a></li>
        <li><a href="/pakistan">Pakistan</a></li>
        <li><a href="/world">World</a></li>
        <li><a href="/business">Business</a></li>
        <li><a href="/sports">Sports</a></li>
      </ul>
    </nav>
  </header>
  <div class="ad banner-ad">ADVERTISEMENT: Buy cheap flights to Dubai now!</div>
  <main>
    <article>
      <h1>{title}</h1>
      <p class="byline">By Amina Siddiqui &middot; {day}</p>
{paragraphs}
    </article>
    <aside class="related">
      <h3>Related stories</h3>
      <ul>
        <li><a href="/news/1">Cricket board announces new captain</a></li>
        <li><a href="/news/2">Rupee gains against dollar</a></li>
      </ul>
    </aside>
  </main>
  <footer>
    <p>&copy; 2023 {site}. All rights reserved.</p>
    <p><a href="/privacy">Privacy policy</a> | <a href="/contact">Contact us</a></p>
  </footer>
  <script src="/static/analytics.js"></script>
</body>
</html>
"""
HTML_JUNK = [
    "ADVERTISEMENT",
    "trackingSecretToken",
    "dataLayer",
    "Related stories",
    "Cricket board",
    "All rights reserved",
    "Privacy policy",
    "display: block",
]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html(corpus: Corpus, stories: list[list[str]]) -> None:
    sites = ("The Frontier Post", "Khyber Times", "Balochistan Herald")
    for n in range(6):
        marker = f"ht{n:02d}"
        site = sites[n % len(sites)]
        folder = OUTLETS[n % len(OUTLETS)]
        rel = f"{folder}/page-{n:02d}.html"
        title = f"{TOPICS[n % len(TOPICS)]}, page {marker}"
        lead, lead_text, place = _lead(300 + n, marker)
        window = _window(stories, 300 + n, size=4)
        published = datetime(2023, 9, 10 + n, 8, 30, tzinfo=timezone(timedelta(hours=5)))
        paragraphs = "\n".join(f"      <p>{_escape(p)}</p>" for p in [lead, *window])
        page = HTML_PAGE.format(
            title=title,
            site=site,
            host=site.lower().replace(" ", "") + ".example",
            marker=marker,
            published=published.isoformat(),
            day=f"{published:%B} {published.day}, {published.year}",
            paragraphs=paragraphs,
        )
        _write(corpus.root, rel, page.encode("utf-8"))
        corpus.articles.append(
            Article(
                path=rel,
                record=0,
                title=title,
                source=site,
                marker=marker,
                has=[collapse(lead_text), *map(collapse, window)],
                lacks=HTML_JUNK,
                published_at=published.astimezone(UTC),
                dateline=place,
            )
        )


def _json_object(n: int, stories: list[list[str]], style: int) -> tuple[dict, dict]:
    """An article object in one of several exporters' field names, and what it means."""
    marker = f"js{n:03d}"
    title = f"{TOPICS[n % len(TOPICS)]}, feed item {marker}"
    lead, lead_text, place = _lead(400 + n, marker)
    paragraphs = [lead, *_window(stories, 400 + n)]
    published = datetime(2024, 1, 1 + n % 28, 14, 0, tzinfo=timezone(timedelta(hours=5)))
    if style == 0:  # schema.org NewsArticle
        obj = {
            "@type": "NewsArticle",
            "headline": title,
            "articleBody": paragraphs,
            "datePublished": published.isoformat(),
            "publisher": {"@type": "Organization", "name": "Pakistan Today"},
            "author": [{"@type": "Person", "name": "Hina Shah"}],
            "inLanguage": "en",
        }
        source = "Pakistan Today"
    elif style == 1:  # a feed export
        obj = {
            "title": title,
            "content": "\n\n".join(paragraphs),
            "publishedAt": published.isoformat(),
            "site": "Business Recorder",
        }
        source = "Business Recorder"
    else:  # plain, no source of its own: the folder names it
        obj = {"title": title, "text": "\n\n".join(paragraphs), "date": published.isoformat()}
        source = None
    expected = {
        "title": title,
        "marker": marker,
        "source": source,
        "dateline": place,
        "published_at": published.astimezone(UTC),
        "has": [collapse(lead_text), *map(collapse, paragraphs[1:])],
    }
    return obj, expected


def _json_article(rel: str, record: int, folder: str, expected: dict) -> Article:
    return Article(
        path=rel,
        record=record,
        title=expected["title"],
        source=expected["source"] or folder,
        marker=expected["marker"],
        has=expected["has"],
        published_at=expected["published_at"],
        dateline=expected["dateline"],
    )


def _json(corpus: Corpus, stories: list[list[str]]) -> None:
    n = 0
    for k in range(5):  # single objects
        folder = OUTLETS[k % len(OUTLETS)]
        rel = f"{folder}/export-{k}.json"
        obj, expected = _json_object(n, stories, k % 3)
        n += 1
        _write(corpus.root, rel, json.dumps(obj, ensure_ascii=k % 2 == 0, indent=2).encode())
        corpus.articles.append(_json_article(rel, 0, folder, expected))
    for k in range(3):  # lists: plain, wrapped in {"articles": [...]}, one with a bad item
        folder = OUTLETS[(k + 1) % len(OUTLETS)]
        rel = f"{folder}/batch-{k}.json"
        items = []
        for record in range(4):
            obj, expected = _json_object(n, stories, record % 3)
            n += 1
            if k == 2 and record == 2:
                obj = {"headline": "A teaser without its story", "summary": "No body here."}
            else:
                corpus.articles.append(_json_article(rel, record, folder, expected))
            items.append(obj)
        value = {"articles": items, "count": len(items)} if k == 1 else items
        _write(corpus.root, rel, json.dumps(value, ensure_ascii=False).encode("utf-8"))
        if k == 2:
            corpus.failures.append(BadFile(rel, "bad-item"))


def _jsonl(corpus: Corpus, stories: list[list[str]]) -> None:
    # Line 3 is blank and line 5 is cut off: the other five lines are articles, and
    # records count non-blank lines (the bad line keeps its record number).
    rel = "Dawn/feed.jsonl"
    lines: list[str] = []
    record = 0
    for number in range(1, 8):
        if number == 3:
            lines.append("")
            continue
        if number == 5:
            lines.append('{"title": "Cut off in the middle", "body": "The export stopp')
            record += 1
            continue
        obj, expected = _json_object(500 + number, stories, number % 3)
        lines.append(json.dumps(obj, ensure_ascii=False))
        corpus.articles.append(_json_article(rel, record, "Dawn", expected))
        record += 1
    _write(corpus.root, rel, ("\n".join(lines) + "\n").encode("utf-8"))
    corpus.failures.append(BadFile(rel, "jsonl-line", line=5))

    # A second feed, clean, with a BOM and Windows line endings.
    rel = "AP/wire.jsonl"
    lines = []
    for record in range(4):
        obj, expected = _json_object(600 + record, stories, record % 3)
        lines.append(json.dumps(obj))
        corpus.articles.append(_json_article(rel, record, "AP", expected))
    _write(corpus.root, rel, encode("\n".join(lines) + "\n", "utf-8-bom").replace(b"\n", b"\r\n"))


def _bad_files(corpus: Corpus, outside: Path) -> None:
    root = corpus.root
    bad: dict[str, tuple[str, bytes]] = {
        "Reuters/empty.txt": ("empty", b""),
        "Reuters/blank.txt": ("blank", b"   \n\t\r\n  \n"),
        "AP/photo.txt": ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8),
        "AP/garbled.txt": ("undecodable", bytes(range(0x80, 0x100)) * 4),
        "Dawn/broken.json": ("malformed", b'{"title": "Half a file",\n "body": "The text sto'),
        "Dawn/no-body.json": (
            "no-body",
            json.dumps(
                {"headline": "Only a headline", "author": "Desk", "datePublished": "2024-02-01"}
            ).encode(),
        ),
        "The Nation/menu.html": (
            "nav-only",
            (
                b"<html><head><title>Menu</title></head><body>"
                b"<nav><ul><li><a href='/'>Home</a></li><li><a href='/w'>World"
                b"</a></li></ul></nav></body></html>"
            ),
        ),
        "Reuters/report.pdf": (
            "pdf",
            (
                b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n"
                b"endobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
            ),
        ),
        "AP/memo.docx": ("docx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + bytes(range(256))),
    }
    for rel, (kind, data) in bad.items():
        _write(root, rel, data)
        # Malformed JSON is reported at the line where the syntax breaks.
        corpus.failures.append(BadFile(rel, kind, line=2 if kind == "malformed" else None))

    # About 0.3 MB of perfectly good text: too large for the stack's limit.
    paragraph = f"The {CORPUS_WORD} archive holds this oversized transcript of a long hearing. " * 8
    _write(root, "Dawn/huge.txt", ("Hearing transcript\n\n" + (paragraph + "\n\n") * 500).encode())
    assert (root / "Dawn/huge.txt").stat().st_size > float(MAX_FILE_MB) * 1024 * 1024
    corpus.failures.append(BadFile("Dawn/huge.txt", "too-large"))

    # A link to a good article outside the inbox: reported, never read.
    outside.mkdir(parents=True, exist_ok=True)
    secret = outside / "secret.txt"
    secret.write_text(
        f"Secret memo\n\nKARACHI – This {SECRET_WORD} memo must never be indexed, "
        "officials said on Monday.\n",
        encoding="utf-8",
    )
    (root / "Reuters").mkdir(parents=True, exist_ok=True)
    os.symlink(secret, root / "Reuters/linked-memo.txt")
    corpus.failures.append(BadFile("Reuters/linked-memo.txt", "symlink"))


IGNORED_NAMES = (
    ".hidden-story-{k}.txt",  # hidden file at the top
    "Reuters/.draft-{k}.txt",  # hidden file in an outlet
    ".git/objects/note-{k}.txt",  # a hidden folder
    "Dawn/.cache/story-{k}.txt",  # a hidden folder inside an outlet
    "AP/story-{k}.txt.part",
    "AP/incoming-{k}.part",
    "Dawn/export-{k}.tmp",
    "Dawn/article-{k}.txt.tmp",
    "Reuters/page-{k}.html.crdownload",
    "Reuters/story-{k}.txt.swp",
    "AP/~$memo-{k}.docx",
    "Dawn/~$story-{k}.txt",
)


def _ignored(corpus: Corpus) -> None:
    for k in range(5):
        for pattern in IGNORED_NAMES:
            rel = pattern.format(k=k)
            text = (
                f"Ignored draft {k}\n\nKARACHI – This {IGNORED_WORD} draft is still being "
                f"written and must not be indexed, officials said on day {k}.\n"
            )
            _write(corpus.root, rel, text.encode("utf-8"))
            corpus.ignored.append(rel)
