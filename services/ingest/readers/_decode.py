"""Decoding for readers: DecodeError becomes a ReadError with the same reason."""

from __future__ import annotations

from services.ingest.decoding import DecodeError, decode_bytes
from services.ingest.readers.base import EMPTY_FILE, ReadError


def decode(data: bytes) -> str:
    try:
        text = decode_bytes(data)
    except DecodeError as exc:
        raise ReadError(exc.reason) from exc
    if not text.strip():
        raise ReadError(EMPTY_FILE)
    return text
