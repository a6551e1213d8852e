"""Bytes -> text: every reader decodes its input here, so all formats agree on the rules.

Order matters: a byte-order mark is proof of the encoding; UTF-8 is tried before any
guess because valid UTF-8 is almost never accidental; only then charset-normalizer
guesses among legacy encodings. Binary data is rejected before any of that, since a
"decoded" PDF or image would otherwise become an article of mojibake.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from charset_normalizer import from_bytes

# Longest first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Control characters that never occur in text (tab, newline, CR, form feed are fine).
_TEXT_CONTROLS = {0x09, 0x0A, 0x0C, 0x0D}
_MAX_CONTROL_RATIO = 0.05
_SAMPLE_BYTES = 8192


class DecodeError(ValueError):
    """The bytes are not text this service can read; ``reason`` says why and what to do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def detect_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def looks_binary(data: bytes) -> str | None:
    """Why ``data`` looks like binary rather than text, or None if it looks like text.

    Only called on data without a UTF-16/32 BOM: those encodings are full of NUL bytes.
    """
    sample = data[:_SAMPLE_BYTES]
    if not sample:
        return None
    if b"\x00" in sample:
        return "it contains NUL bytes"
    controls = sum(1 for b in sample if (b < 0x20 and b not in _TEXT_CONTROLS) or b == 0x7F)
    if controls / len(sample) > _MAX_CONTROL_RATIO:
        return f"{controls} of its first {len(sample)} bytes are control characters"
    return None


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_bytes(data: bytes) -> str:
    """Decode a file's bytes to text with ``\\n`` line endings, or raise DecodeError."""
    bom = detect_bom(data)
    if bom:
        try:
            text = data[len(_bom_bytes(bom)) :].decode(bom)
        except UnicodeDecodeError as exc:
            raise DecodeError(
                f"the file starts with a {bom.upper()} byte-order mark but is not valid "
                f"{bom.upper()} (byte {exc.start + len(_bom_bytes(bom))}): save it again as UTF-8"
            ) from exc
        return normalize_newlines(text)

    binary = looks_binary(data)
    if binary:
        raise DecodeError(
            f"this looks like a binary file, not text ({binary}): put only text, Markdown, "
            "HTML, JSON or JSON Lines articles in the inbox"
        )
    try:
        return normalize_newlines(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass

    legacy = guess_legacy(data)
    if legacy is None:
        raise DecodeError(
            "the text encoding could not be recognised (it is not UTF-8 and no legacy "
            "encoding fits): save the file as UTF-8"
        )
    return normalize_newlines(legacy)


# Punctuation cp1252 adds to ASCII that Western text uses.
# No-break space (0xA0) and soft hyphen (0xAD) are everywhere in text copied from the web.
_WESTERN_PUNCTUATION = set("“”‘’‚„–—…•€£¥¢©®™°«»·¡¿×÷§¶†‡‰\u00a0\u00ad")
_CHAOS_TOLERANCE = 0.1
_WORD = re.compile(r"\w+")


def guess_legacy(data: bytes) -> str | None:
    """Decode non-UTF-8 text with the encoding charset-normalizer finds most plausible.

    charset-normalizer cannot tell the Western code pages apart on short or mostly-ASCII
    text (it may answer cp1257 for French), so Windows-1252, by far the most common
    legacy encoding of news text, wins whenever it is among the plausible answers, or when
    the best answer mixes Latin letters with another script inside a word (mojibake).
    """
    matches = [
        m
        for m in from_bytes(data)
        # Without a BOM and without NUL bytes, UTF-16/32 is never the right answer.
        if m.encoding and not m.encoding.startswith(("utf_16", "utf_32"))
    ]
    western = _strict(data, "cp1252")
    if western is not None and not _latin_text(western):
        western = None
    if not matches:
        return western
    best = matches[0]
    if western is not None:
        plausible = {m.encoding for m in matches if m.chaos <= best.chaos + _CHAOS_TOLERANCE}
        if plausible & {"cp1252", "latin_1", "iso8859_15"} or _mixes_scripts(str(best)):
            return western
    return str(best)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _script(ch: str) -> str:
    return unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]


def _latin_text(text: str) -> bool:
    """Only ASCII, Latin letters and Western punctuation."""
    return all(
        ord(ch) < 128 or ch in _WESTERN_PUNCTUATION or (ch.isalpha() and _script(ch) == "LATIN")
        for ch in set(text)
    )


def _mixes_scripts(text: str) -> bool:
    """Some word has Latin letters next to letters of another script ("cafﻠ")."""
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        scripts = {_script(ch) for ch in word if ch.isalpha()}
        if "LATIN" in scripts and len(scripts) > 1:
            return True
    return False


def _bom_bytes(encoding: str) -> bytes:
    return next(bom for bom, enc in _BOMS if enc == encoding)
