"""Bytes -> text for each encoding a news file arrives in, and the rejections."""

from __future__ import annotations

import codecs

import pytest

from services.ingest.decoding import DecodeError, decode_bytes

TEXT = "Islamabad talks “resume” – the minister’s café meeting, naïve or not.\nSecond line."


def test_plain_utf8() -> None:
    assert decode_bytes(TEXT.encode("utf-8")) == TEXT


def test_utf8_bom_is_removed() -> None:
    assert decode_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8")) == TEXT


@pytest.mark.parametrize(
    "bom,encoding",
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_utf16_and_utf32_with_bom(bom: bytes, encoding: str) -> None:
    # These are full of NUL bytes: the BOM must be honoured before the binary check.
    assert decode_bytes(bom + TEXT.encode(encoding)) == TEXT


def test_python_utf16_codec_output() -> None:
    assert decode_bytes(TEXT.encode("utf-16")) == TEXT


@pytest.mark.parametrize(
    "text",
    [
        "café",
        "The café in Paris is “nice” – isn’t it?",
        "“Café” – naïve déjà vu, the minister’s résumé was long. Élan and façade.",
        "El niño pidió una canción en español: ¿qué tal? Señor Núñez respondió.",
        "Größe und Maß: Die Straße in München ist schön. Übermäßig große Äpfel.",
        "Prices rose 5 € and £3 — “a shock”… said the trader.",
    ],
)
def test_cp1252(text: str) -> None:
    assert decode_bytes(text.encode("cp1252")) == text


def test_latin1() -> None:
    text = "Le ministre a déclaré à la presse que les négociations reprendraient à Genève."
    assert decode_bytes(text.encode("latin-1")) == text


def test_cp1251_cyrillic() -> None:
    text = "Министр иностранных дел заявил, что переговоры продолжатся на следующей неделе в Москве."
    assert decode_bytes(text.encode("cp1251")) == text


def test_greek_legacy() -> None:
    text = "Ο υπουργός Εξωτερικών δήλωσε ότι οι συνομιλίες θα συνεχιστούν την επόμενη εβδομάδα."
    assert decode_bytes(text.encode("iso8859_7")) == text


def test_shift_jis() -> None:
    text = "東京で会議が開かれました。外務大臣は記者会見で話しました。"
    assert decode_bytes(text.encode("shift_jis")) == text


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_line_endings_are_normalised(newline: str) -> None:
    raw = newline.join(["Title", "", "Body line one.", "Body line two."])
    assert decode_bytes(raw.encode("utf-8")) == "Title\n\nBody line one.\nBody line two."


def test_line_endings_normalised_in_legacy_encoding() -> None:
    assert decode_bytes("café\r\nbar".encode("cp1252")) == "café\nbar"


def test_nul_bytes_are_binary() -> None:
    with pytest.raises(DecodeError, match="binary.*NUL"):
        decode_bytes(b"%PDF-1.4\n\x00\x01\x02 stream")


def test_control_characters_are_binary() -> None:
    with pytest.raises(DecodeError, match="binary.*control characters"):
        decode_bytes(b"\x01\x02\x03\x04abc" * 50)


def test_png_header_is_binary() -> None:
    with pytest.raises(DecodeError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))


def test_tabs_and_form_feeds_are_text() -> None:
    assert decode_bytes(b"a\tb\x0cc") == "a\tb\x0cc"


def test_undecodable_text_has_a_reason() -> None:
    with pytest.raises(DecodeError, match="encoding could not be recognised.*UTF-8"):
        decode_bytes(bytes(range(0x80, 0x100)) * 4)


def test_broken_bom_text_has_a_reason() -> None:
    with pytest.raises(DecodeError, match="UTF-32-LE"):
        decode_bytes(codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff")


def test_empty_bytes_decode_to_empty_text() -> None:
    assert decode_bytes(b"") == ""


def test_cp1252_text_with_no_break_spaces_is_decoded_as_cp1252() -> None:
    # Web copy pasted into Windows editors is full of no-break spaces (0xA0). They used to
    # make the cp1252 reading "not Latin text", so charset-normalizer's first pick won:
    # cp1250, turning "naïve" into "naďve" (the large mixed drop found it).
    text = "Officials called the talks \u201cna\u00efve\u00a0but necessary\u201d, the d\u00e9l\u00e9gation said.\n"
    assert decode_bytes(text.encode("cp1252")) == text
