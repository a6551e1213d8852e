"""A hostile corpus: one file of every kind issue 15 found (and a few more), each with what
must become of it. Dropped between ordinary articles by tests/integration/test_hostile_corpus.py.

Every file that must be indexed carries a word of its own (``marker``) to search it by; every
file that must fail names the words its reason must contain.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import SEEDS

# Small enough to drop many articles per file past it, without a big file.
MAX_ARTICLES_PER_FILE = 50
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]


@dataclass
class Hostile:
    name: bytes  # relative to the inbox; any bytes
    content: bytes | None  # None: not a regular file (made by ``kind``)
    indexed: bool
    marker: str = ""  # a word only this file's document has (indexed files)
    words: tuple[str, ...] = ()  # words the failure reason must contain (failed files)
    kind: str = "file"  # "file", "fifo"
    title_has: str = ""  # a piece of the indexed title

    @property
    def source_path(self) -> str:
        from services.ingest.paths import escape_name

        return escape_name(os.fsdecode(self.name))


@dataclass
class HostileCorpus:
    files: list[Hostile] = field(default_factory=list)
    ordinary: list[Hostile] = field(default_factory=list)

    @property
    def indexed(self) -> list[Hostile]:
        return [f for f in [*self.files, *self.ordinary] if f.indexed]

    @property
    def failed(self) -> list[Hostile]:
        return [f for f in self.files if not f.indexed]


def _article(marker: str, seed: int = 0) -> str:
    """A real article (a seed) with a word of its own in its first paragraph."""
    text = SEED_TEXTS[seed % len(SEED_TEXTS)]
    first, _, rest = text.partition("\n")
    return f"{first}\n\nThe {marker} report follows. {rest}"


def _json(obj: object) -> bytes:
    # ensure_ascii keeps lone surrogates as \\ud800 escapes, as real exports carry them.
    return json.dumps(obj, ensure_ascii=True).encode("ascii")


def build() -> HostileCorpus:
    corpus = HostileCorpus()
    add = corpus.files.append

    # The table of issue 15.
    add(Hostile(b"caf\xe9 \xabLatin-1\xbb.txt", _article("zqlatinname").encode(), True, "zqlatinname"))
    add(
        Hostile(
            b"surrogate-title.json",
            _json({"title": "Lone \ud800 surrogate title", "body": _article("zqsurrtitle", 1)}),
            True,
            "zqsurrtitle",
            title_has="Lone \ufffd surrogate title",
        )
    )
    add(
        Hostile(
            b"surrogate-author.json",
            _json(
                {
                    "title": "Author with a lone surrogate",
                    "author": "Ann \udfff",
                    "body": _article("zqsurrauthor", 2),
                }
            ),
            True,
            "zqsurrauthor",
        )
    )
    huge_body = " ".join(SEED_TEXTS) + " zqhugearticle "
    huge_body = (huge_body * (1_300_000 // len(huge_body) + 1))[:1_300_000]
    add(Hostile(b"huge-1.3MB.txt", ("A very long article\n\n" + huge_body).encode(), True, "zqhugearticle"))
    add(
        Hostile(
            b"javascript-url.json",
            _json(
                {
                    "title": "A link that runs script",
                    "url": "javascript:alert(document.domain)",
                    "body": _article("zqjsurl", 3),
                }
            ),
            True,
            "zqjsurl",
        )
    )
    # The review's points.
    add(
        Hostile(
            b"markup-title.json",
            _json(
                {
                    "title": "<script>alert(1)</script><img src=x onerror=alert(2)>",
                    "body": _article("zqmarkup", 4),
                }
            ),
            True,
            "zqmarkup",
            title_has="<script>alert(1)</script>",
        )
    )
    laughs = (
        "---\n"
        + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
        + "title: Laughs\n---\n"
        + _article("zqlaughs")
    )
    add(Hostile(b"billion-laughs.md", laughs.encode(), False, words=("DATELINE_MAX_YAML_ALIASES",)))
    add(Hostile(b"deep.json", b"[" * 200_000 + b"]" * 200_000, False, words=("DATELINE_MAX_NESTING",)))
    bad_lines = [json.dumps({"title": "Good line", "body": _article("zqgoodline", 1)})] + ["{broken"] * 40
    add(Hostile(b"many-bad-lines.jsonl", "\n".join(bad_lines).encode(), True, "zqgoodline"))
    many = [
        json.dumps({"title": f"Item {i}", "body": _article(f"zqmany{i}")})
        for i in range(MAX_ARTICLES_PER_FILE + 5)
    ]
    add(
        Hostile(b"too-many.jsonl", "\n".join(many).encode(), False, words=("DATELINE_MAX_ARTICLES_PER_FILE",))
    )
    add(
        Hostile(
            b"long-date.json",
            _json(
                {
                    "title": "A date field of a megabyte",
                    "date": "12 May 2024 " * 90_000,
                    "body": _article("zqlongdate", 2),
                }
            ),
            True,
            "zqlongdate",
        )
    )
    add(
        Hostile(
            b"controls.txt",
            (
                "Controls \x07in \x1b[31m the title\n\n"
                + _article("zqcontrols", 3).replace(". ", ".\x0b\x1b ", 3)
            ).encode(),
            True,
            "zqcontrols",
        )
    )
    add(
        Hostile(
            b"nul.json",
            _json(
                {"title": "NUL\u0000 in JSON", "body": _article("zqnuljson", 3).replace(". ", ".\u0000 ", 3)}
            ),
            True,
            "zqnuljson",
        )
    )
    add(
        Hostile(
            b"utf16.txt",
            ("UTF-16 article\n\n" + _article("zqutfsixteen", 4)).encode("utf-16"),
            True,
            "zqutfsixteen",
        )
    )
    add(Hostile(b"two\nlines.txt", _article("zqnewlinename", 0).encode(), True, "zqnewlinename"))
    add(Hostile(b"pipe.txt", None, False, words=("named pipe", "regular file"), kind="fifo"))
    add(Hostile(b"folder.json/inside.txt", _article("zqinsidefolder", 1).encode(), True, "zqinsidefolder"))
    add(Hostile(b"binary.txt", bytes(range(256)) * 40, False, words=("text",)))
    add(Hostile(b"empty.json", b"", False, words=("empty",)))

    for i, text in enumerate(SEED_TEXTS):
        marker = f"zqordinary{chr(97 + i)}"
        first, _, rest = text.partition("\n")
        corpus.ordinary.append(
            Hostile(
                f"ordinary/{i}.txt".encode(),
                f"{first}\n\nThe {marker} report follows. {rest}".encode(),
                True,
                marker,
            )
        )
    return corpus


def drop(corpus: HostileCorpus, inbox: Path) -> None:
    """Ordinary articles first and last, the hostile files between them."""
    half = len(corpus.ordinary) // 2
    for item in [*corpus.ordinary[:half], *corpus.files, *corpus.ordinary[half:]]:
        path = os.path.join(os.fsencode(inbox), item.name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if item.kind == "fifo":
            os.mkfifo(path)
        else:
            with open(path, "wb") as out:
                out.write(item.content or b"")


def tree_state(root: Path) -> dict[bytes, tuple[str, str]]:
    """Every entry under ``root`` by its byte name: a file's content hash, or its kind."""
    import hashlib
    import stat

    state: dict[bytes, tuple[str, str]] = {}
    base = os.fsencode(root)
    for folder, dirs, files in os.walk(base):
        for name in [*files, *dirs]:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            rel = os.path.relpath(path, base)
            if stat.S_ISREG(mode):
                with open(path, "rb") as f:
                    state[rel] = ("file", hashlib.sha256(f.read()).hexdigest())
            else:
                state[rel] = ("dir" if stat.S_ISDIR(mode) else "special", "")
    return state
