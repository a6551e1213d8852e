"""Bytes -> text: every reader decodes its input here, so all formats agree on the rules.

Order matters: a byte-order mark is proof of the encoding; UTF-8 is tried before any
guess because valid UTF-8 is almost never accidental; only then charset-normalizer
guesses among legacy encodings. Binary data is rejected before any of that, since a
"decoded" PDF or image would otherwise become an article of mojibake.
"""

from __future__ import annotations

import codecs

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

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise DecodeError(
            "the text encoding could not be recognised (it is not UTF-8 and no legacy "
            "encoding fits): save the file as UTF-8"
        )
    return normalize_newlines(str(best))


def _bom_bytes(encoding: str) -> bytes:
    return next(bom for bom, enc in _BOMS if enc == encoding)
