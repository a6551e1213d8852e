"""One name per entity across the archive: folding, facet forms and the alias table."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.names.aliases import AliasFileError, build_table
from shared.names.folding import facet_form, fold_key
from shared.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "spellings",
    [
        ["al-Qaeda", "Al-Qaeda", "al Qaeda", "Al Qaeda", "al–Qaeda"],  # case, hyphen, dash
        ["Zürich", "Zurich"],  # diacritics
        ["O’Brien", "O'Brien", "O'brien"],  # quotes, the letter after an elided particle
        ["Tehrik-e-Taliban Pakistan", "Tehrik e Taliban Pakistan", "tehrik-e-Taliban Pakistan"],
        ["U.S.", "US"],  # full stops
    ],
)
def test_spellings_that_differ_only_in_case_diacritics_hyphens_or_quotes_fold_into_one(spellings) -> None:
    assert len({fold_key(s) for s in spellings}) == 1
    assert len({facet_form(s) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("name", "facet"),
    [
        ("al Qaeda", "Al-Qaeda"),
        ("Tehrik e Taliban Pakistan", "Tehrik-e-Taliban Pakistan"),
        ("abu bakr al-Baghdadi", "Abu Bakr al-Baghdadi"),
        ("Osama Bin Laden", "Osama bin Laden"),
        ("Bank Of England", "Bank of England"),
        ("TTP", "TTP"),  # an initialism keeps its capitals
        ("BlackRock", "BlackRock"),
        ("كابل", "كابل"),  # a script without case is left as written
    ],
)
def test_facet_form_is_a_function_of_the_key(name: str, facet: str) -> None:
    assert facet_form(name) == facet


def test_different_names_stay_apart() -> None:
    assert fold_key("Janjua") != fold_key("Tehmina Janjua")
    assert fold_key("Taliban") != fold_key("Tehrik-e-Taliban Pakistan")


def test_alias_table_folds_countries_and_news_short_forms() -> None:
    table = build_table(None)
    for alias in ("US", "U.S.", "USA", "United States", "United States of America"):
        assert table.facet_value(alias) == "United States", alias
    assert table.facet_value("Islamic Republic of Iran") == "Iran"  # pycountry
    assert table.facet_value("Iran, Islamic Republic of") == "Iran"
    assert table.facet_value("Russian Federation") == "Russia"  # the project's list wins
    assert table.facet_value("Britain") == "United Kingdom"
    assert table.facet_value("Nato") == table.facet_value("NATO") == "NATO"
    assert table.facet_value("al-Qaida") == "Al-Qaeda"
    assert table.facet_value("Zalmay Khalilzad") == "Zalmay Khalilzad"  # not listed: itself
    assert {"US", "USA", "United States"} <= table.spellings("United States")


def test_user_alias_file_adds_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text(
        "Federal Office for the Protection of the Constitution: [BfV, Verfassungsschutz]\nAmerica: [US]\n",
        encoding="utf-8",
    )
    table = build_table(path)
    assert table.facet_value("bfv") != table.facet_value("BfV")  # initialisms keep their case
    assert table.facet_value("BfV") == "Federal Office for the Protection of the Constitution"
    assert table.facet_value("U.S.") == "America"  # the user's file wins over the built-in list


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- just\n- a list\n", "not a mapping"),
        ("United States: [US]\nUnited Kingdom: [US]\n", "alias of both"),
        ("United States: {short: US}\n", "not a name with a list of names"),
        ("United States: [US\n", "not valid YAML"),
    ],
)
def test_bad_alias_file_is_refused_with_what_to_change(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AliasFileError, match=message) as error:
        build_table(path)
    assert str(path) in str(error.value) and "DATELINE_ENTITY_ALIASES" in str(error.value)


def test_alias_setting_must_name_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATELINE_ENTITY_ALIASES", str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="DATELINE_ENTITY_ALIASES=.*is not a file"):
        Settings(_env_file=None)
    monkeypatch.setenv("DATELINE_ENTITY_ALIASES", "")
    assert Settings(_env_file=None).entity_aliases is None
