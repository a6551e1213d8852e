"""A language a file states, as the two-letter ISO 639-1 code the pipeline uses.

Files say it many ways: ``en``, ``EN``, ``en-US``, ``en_GB``, ``eng``, ``English``,
``eng_Latn``. Ingest normalises the hint once (``language_hint``); the language stage and
search read only the code. The names and codes come from pycountry (ISO 639-3, maintained
upstream), not from a list of our own.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Longer than any language name in ISO 639-3 with room to spare: a longer value is not one.
MAX_HINT_CHARS = 64
_SUBTAG = re.compile(r"[-_]")


def iso_639_1(hint: str | None) -> str | None:
    """The ISO 639-1 code of ``hint``, or None when it names no language that has one."""
    if not hint:
        return None
    text = " ".join(hint.split()).casefold()
    if not text or len(text) > MAX_HINT_CHARS:
        return None
    return _code(text) or _code(_SUBTAG.split(text, maxsplit=1)[0])


@lru_cache(maxsize=512)
def _code(text: str) -> str | None:
    """Codes before names: ``en`` is English's code and also the name of another language
    (En, ISO 639-3 ``enc``), so a general lookup would take the wrong one."""
    import pycountry

    languages = pycountry.languages
    language = (
        languages.get(alpha_2=text)
        or languages.get(alpha_3=text)
        or languages.get(bibliographic=text)
        or _by_name(text)
    )
    code = getattr(language, "alpha_2", None)
    return str(code) if code else None


def _by_name(text: str) -> object | None:
    import pycountry

    try:
        language: object = pycountry.languages.lookup(text)
    except LookupError:
        return None
    return language
