"""Decoding for readers: DecodeError becomes a ReadError with the same reason."""

from __future__ import annotations

from services.ingest.decoding import DecodeError, decode_bytes
from services.ingest.readers.base import BLANK_FILE, EMPTY_FILE, ReadError


def decode(data: bytes) -> str:
    """The text of ``data``; ReadError when it is not text, or holds nothing to read.

    An empty file (no bytes, or only a byte-order mark) and a blank one (only spaces and
    line breaks) are told apart: the second often means an export went wrong.
    """
    try:
        text = decode_bytes(data)
    except DecodeError as exc:
        raise ReadError(exc.reason) from exc
    if not text:
        raise ReadError(EMPTY_FILE)
    if not text.strip():
        raise ReadError(BLANK_FILE)
    return text
