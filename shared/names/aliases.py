"""The alias table: which names are one entity across the archive, and its canonical name.

Three layers, later ones winning where they name the same alias:

1. countries from ``pycountry`` (ISO 3166, maintained upstream): ISO name, official name
   and common name all lead to one canonical name (the common name where ISO has one:
   ``Iran, Islamic Republic of`` -> ``Iran``);
2. the project's list for news (``news_aliases.yaml``): ``US``, ``U.S.``, ``USA`` ->
   ``United States``, ``Russian Federation`` -> ``Russia``, ``TTP`` ...;
3. the user's file, ``DATELINE_ENTITY_ALIASES``: YAML (or JSON) mapping each canonical
   name to a list of its aliases.

Lookups go by ``fold_key``, so ``U.S.`` finds ``US`` and ``al-qaida`` finds ``Al-Qaida``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import yaml

from shared.names.folding import facet_form, fold_key

FILE_FORMAT = (
    "a YAML or JSON mapping of each canonical name to a list of its aliases, e.g.\n"
    "  United States: [US, U.S., USA]\n  Bundesamt für Verfassungsschutz: [BfV]"
)


class AliasFileError(ValueError):
    """An alias file that cannot be used; the message says what to change."""


class AliasTable:
    """Folded alias -> canonical name, and canonical name -> its known spellings."""

    def __init__(self) -> None:
        self._canonical: dict[str, str] = {}
        self._spellings: dict[str, set[str]] = {}

    def add_layer(self, entries: Mapping[str, Iterable[str]], source: str) -> None:
        """Add ``canonical -> aliases``; an alias this layer gives two canonical names is an
        error, one an earlier layer gave is taken over."""
        claimed: dict[str, str] = {}
        for canonical, aliases in entries.items():
            for alias in [canonical, *aliases]:
                key = fold_key(alias)
                if not key:
                    raise AliasFileError(f"{source}: an empty alias under {canonical!r}")
                if claimed.get(key, canonical) != canonical:
                    raise AliasFileError(
                        f"{source}: {alias!r} is an alias of both {claimed[key]!r} and {canonical!r}; "
                        "keep it under one of them"
                    )
                claimed[key] = canonical
        self._canonical.update(claimed)
        for canonical, aliases in entries.items():
            self._spellings.setdefault(canonical, set()).update([canonical, *aliases])

    def canonical(self, name: str) -> str | None:
        """The canonical name ``name`` is an alias of, if the table lists it."""
        return self._canonical.get(fold_key(name))

    def facet_value(self, name: str) -> str:
        """The one facet value of ``name``: its canonical name, else its facet form."""
        return self.canonical(name) or facet_form(name)

    def spellings(self, canonical: str) -> set[str]:
        """Every listed way of writing ``canonical`` (itself included)."""
        return {s for s in self._spellings.get(canonical, set()) if self.canonical(s) == canonical} | {
            canonical
        }


def _country_name(name: str, common: str | None) -> str:
    """News-style name of an ISO country: ``Virgin Islands, British`` -> ``British Virgin
    Islands``, ``Micronesia, Federated States of`` -> ``Federated States of Micronesia``."""
    if common:
        return common
    head, sep, tail = name.partition(", ")
    if not sep:
        return name
    if tail.endswith((" of", " of the")) or " " not in tail:
        return f"{tail} {head}"
    return name


def country_aliases() -> dict[str, list[str]]:
    import pycountry

    entries: dict[str, list[str]] = {}
    for country in pycountry.countries:
        common = getattr(country, "common_name", None)
        names = [country.name, getattr(country, "official_name", None), common]
        canonical = _country_name(country.name, common)
        entries.setdefault(canonical, []).extend(n for n in names if n and n != canonical)
    return entries


def _read_mapping(text: str, source: str) -> dict[str, list[str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AliasFileError(f"{source} is not valid YAML/JSON ({exc}); write {FILE_FORMAT}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AliasFileError(f"{source} holds a {type(data).__name__}, not a mapping; write {FILE_FORMAT}")
    entries: dict[str, list[str]] = {}
    for canonical, aliases in data.items():
        if isinstance(aliases, str):
            aliases = [aliases]
        if aliases is None:
            aliases = []
        if (
            not isinstance(canonical, str)
            or not isinstance(aliases, list)
            or not all(isinstance(a, str) for a in aliases)
        ):
            raise AliasFileError(
                f"{source}: the entry {canonical!r}: {aliases!r} is not a name with a list of names; "
                f"write {FILE_FORMAT}"
            )
        entries[canonical.strip()] = [a.strip() for a in aliases]
    return entries


def builtin_entries() -> dict[str, list[str]]:
    text = files("shared.names").joinpath("news_aliases.yaml").read_text(encoding="utf-8")
    return _read_mapping(text, "the built-in news_aliases.yaml")


def read_alias_file(path: Path) -> dict[str, list[str]]:
    """The user's alias file, checked; errors name the file and what to change."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AliasFileError(
            f"the alias file {path} (DATELINE_ENTITY_ALIASES) cannot be read ({exc.strerror}); "
            "point the setting at an existing file or unset it"
        ) from exc
    return _read_mapping(text, f"the alias file {path} (DATELINE_ENTITY_ALIASES)")


def build_table(user_file: Path | None) -> AliasTable:
    table = AliasTable()
    table.add_layer(country_aliases(), "pycountry's countries")
    table.add_layer(builtin_entries(), "the built-in news_aliases.yaml")
    if user_file is not None:
        table.add_layer(read_alias_file(user_file), f"the alias file {user_file} (DATELINE_ENTITY_ALIASES)")
    return table


@lru_cache(maxsize=4)
def _cached(user_file: Path | None, stamp: float) -> AliasTable:
    return build_table(user_file)


def alias_table(user_file: Path | None) -> AliasTable:
    """The table for ``user_file`` (built once per process; again when the file changes)."""
    stamp = user_file.stat().st_mtime if user_file is not None and user_file.is_file() else 0.0
    return _cached(user_file, stamp)
