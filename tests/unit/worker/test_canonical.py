from __future__ import annotations

import re

import pytest

from services.worker.nlp.canonical import canonicalise, initials, is_acronym
from services.worker.nlp.mentions import RawMention, clean_mention, label_type, strip_titles


def mentions_in(body: str, spans: list[tuple[str, str]]) -> list[RawMention]:
    """RawMentions for each (text, label) at its successive occurrences in ``body``."""
    found: list[RawMention] = []
    cursor: dict[str, int] = {}
    for text, label in spans:
        start = body.index(text, cursor.get(text, 0))
        cursor[text] = start + len(text)
        found.append(RawMention(text, label, 0.9, start, start + len(text)))
    return found


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Pakistan's", "Pakistan"),
        ("Pakistan’s", "Pakistan"),
        ("Afghans'", "Afghans"),
        ('"Taliban"', "Taliban"),
        ("‘Reuters’", "Reuters"),
        ("“Nato”,", "Nato"),
        ("  Zalmay   Khalilzad. ", "Zalmay Khalilzad"),
        ("(TTP)", "TTP"),
        ("TTP)", "TTP"),
        ("U.S.", "U.S."),
        ("the U.S.", "the U.S."),
        ("Kabul.", "Kabul"),
        ("- File Photo", "File Photo"),
        ("Khalilzad's,", "Khalilzad"),
    ],
)
def test_clean_mention(raw: str, clean: str) -> None:
    assert clean_mention(raw) == clean


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Ambassador Khalilzad", "Khalilzad"),
        ("Ambassador Zalmay Khalilzad", "Zalmay Khalilzad"),
        ("Dr Mohammad Faisal", "Mohammad Faisal"),
        ("Dr. Mohammad Faisal", "Mohammad Faisal"),
        ("Foreign Minister Shah Mehmood Qureshi", "Shah Mehmood Qureshi"),
        ("Foreign Secretary Tehmina Janjua", "Tehmina Janjua"),
        ("Acting Prime Minister Maulvi Abdul Kabir", "Abdul Kabir"),
        ("Lt Gen (retd) Nasser Khan Janjua", "Nasser Khan Janjua"),
        ("President", "President"),  # nothing left: keep it
        ("Mr.", "Mr."),
        ("Hina Rabbani Khar", "Hina Rabbani Khar"),
        ("Drake", "Drake"),  # a name that starts like a title is not a title
    ],
)
def test_strip_titles(raw: str, name: str) -> None:
    assert strip_titles(raw) == name


def test_initials_and_acronyms() -> None:
    assert initials("Tehreek-e-Taliban Pakistan") == "TTP"
    assert initials("Tehrik-e-Taliban Pakistan") == "TTP"
    assert initials("National Security Council") == "NSC"
    assert initials("United States") == "US"
    assert is_acronym("TTP") and is_acronym("U.S.") and is_acronym("NATO")
    assert not is_acronym("Nato") and not is_acronym("A") and not is_acronym("TTP1")


@pytest.mark.parametrize(
    ("label", "etype"),
    [
        ("PER", "person"),
        ("B-PER", "person"),
        ("PERSON", "person"),
        ("S-PERSON", "person"),
        ("ORG", "organization"),
        ("I-ORG", "organization"),
        ("LOC", "location"),
        ("GPE", "location"),
        ("FAC", "location"),
        ("MISC", "misc"),
        ("NORP", "misc"),
        ("EVENT", "misc"),
        ("PRODUCT", "misc"),
    ],
)
def test_label_types(label: str, etype: str) -> None:
    assert label_type(label) == etype


SEED_002 = (
    "US Special Representative for Afghan Reconciliation Ambassador Zalmay Khalilzad arrived "
    "here on Thursday and held talks with Foreign Secretary Tehmina Janjua. Ambassador "
    "Khalilzad held a meeting with the Foreign Secretary Janjua. Ambassador Khalilzad briefed "
    "the Pakistan side and lauded Pakistan's efforts. This is Ambassador Khalilzad's fifth "
    "trip. Khalilzad would call on Foreign Minister Shah Mehmood Qureshi today."
)


def test_seed_002_people_fold_into_full_names() -> None:
    spans = [
        ("Zalmay Khalilzad", "PER"),
        ("Tehmina Janjua", "PER"),
        ("Ambassador Khalilzad", "PER"),
        ("Janjua", "PER"),
        ("Khalilzad", "PER"),
        ("Pakistan", "LOC"),
        ("Pakistan's", "LOC"),
        ("Khalilzad's", "PER"),
        ("Khalilzad", "PER"),
        ("Shah Mehmood Qureshi", "PER"),
    ]
    result = canonicalise(mentions_in(SEED_002, spans), SEED_002)
    counts = {(e.name, e.type): e.count for e in result.entity_list}
    assert counts[("Zalmay Khalilzad", "person")] == 5
    assert counts[("Tehmina Janjua", "person")] == 2
    assert counts[("Pakistan", "location")] == 2
    assert result.entities.person[0] == "Zalmay Khalilzad"  # most mentioned first
    assert "Khalilzad" not in result.entities.person
    assert result.entities.location == ["Pakistan"]
    # Mentions keep their own text, label and body offsets, in body order.
    for mention in result.mentions:
        assert SEED_002[mention.start : mention.end] == mention.text
    assert [m.start for m in result.mentions] == sorted(m.start for m in result.mentions)
    assert {m.canonical for m in result.mentions if "Khalilzad" in m.text} == {"Zalmay Khalilzad"}


def test_ambiguous_surname_is_not_folded() -> None:
    body = "Tehmina Janjua met Nasser Khan Janjua. Janjua said the talks went well."
    spans = [("Tehmina Janjua", "PER"), ("Nasser Khan Janjua", "PER"), ("Janjua", "PER")]
    # The third "Janjua" is the standalone one: skip past the two inside the full names.
    mentions = mentions_in(body, spans)
    lone = body.rindex("Janjua said")
    mentions[2] = RawMention("Janjua", "PER", 0.9, lone, lone + 6)
    result = canonicalise(mentions, body)
    assert sorted(result.entities.person) == ["Janjua", "Nasser Khan Janjua", "Tehmina Janjua"]


def test_acronym_links_to_expansion_given_in_brackets() -> None:
    body = (
        "Pakistan's latest efforts aimed at seeking action against the Tehreek-e-Taliban "
        "Pakistan (TTP) by Kabul could not make headway. The TTP has stepped up attacks. "
        "The banned Tehrik-e-Taliban Pakistan denied it."
    )
    spans = [
        ("Pakistan's", "LOC"),
        ("Tehreek-e-Taliban Pakistan", "ORG"),
        ("TTP", "ORG"),
        ("Kabul", "LOC"),
        ("TTP", "ORG"),
        ("Tehrik-e-Taliban Pakistan", "ORG"),
    ]
    result = canonicalise(mentions_in(body, spans), body)
    assert result.entities.organization == ["Tehreek-e-Taliban Pakistan"]
    assert {e.name: e.count for e in result.entity_list}["Tehreek-e-Taliban Pakistan"] == 4


def test_acronym_links_through_body_pattern_even_if_expansion_was_not_tagged() -> None:
    body = "Talks with the Tehrik-e-Taliban Pakistan (TTP) failed. The TTP vowed attacks."
    mentions = [RawMention("TTP", "ORG", 0.8, m.start(), m.end()) for m in re.finditer("TTP", body)]
    result = canonicalise(mentions, body)
    assert [(e.name, e.count) for e in result.entity_list] == [("Tehrik-e-Taliban Pakistan", 2)]


def test_acronym_without_expansion_stays() -> None:
    body = "Nato troops left. The TTP attacked."
    result = canonicalise(mentions_in(body, [("Nato", "ORG"), ("TTP", "ORG")]), body)
    assert sorted(result.entities.organization) == ["Nato", "TTP"]


def test_majority_type_wins_within_document() -> None:
    body = "Taliban said. Taliban went. Taliban came."
    spans = [("Taliban", "ORG"), ("Taliban", "ORG"), ("Taliban", "MISC")]
    result = canonicalise(mentions_in(body, spans), body)
    assert result.entities.organization == ["Taliban"] and result.entities.misc == []
    assert [m.label for m in result.mentions] == ["ORG", "ORG", "MISC"]  # raw labels kept
    assert {m.type for m in result.mentions} == {"organization"}


def test_noise_mentions_are_dropped_and_empty_input_is_fine() -> None:
    assert canonicalise([], "").entity_list == []
    result = canonicalise([RawMention("“", "MISC", 0.5, 0, 1)], "“")
    assert result.mentions == [] and result.entity_list == []


def test_uncapitalised_words_are_not_names_but_uncased_scripts_are_kept() -> None:
    body = "a compressive mechanism abroad, with al-Qaeda and bin Laden in کابل"
    spans = [
        ("compressive", "ORG"),
        ("abroad", "LOC"),
        ("al-Qaeda", "ORG"),
        ("bin Laden", "PER"),
        ("کابل", "LOC"),
    ]
    result = canonicalise(mentions_in(body, spans), body)
    assert [m.text for m in result.mentions] == ["al-Qaeda", "bin Laden", "کابل"]


def test_ordering_most_mentioned_first_then_name() -> None:
    body = "Kabul Doha Kabul Islamabad"
    spans = [("Kabul", "LOC"), ("Doha", "LOC"), ("Kabul", "LOC"), ("Islamabad", "LOC")]
    result = canonicalise(mentions_in(body, spans), body)
    assert result.entities.location == ["Kabul", "Doha", "Islamabad"]


# --- fragments and names across the archive ------------------------------------------------


def _names(result) -> set[str]:
    return {e.name for e in result.entity_list}


def test_fragments_never_become_entities() -> None:
    body = (
        "The Tehreek-e-Taliban Pakistan claimed it. Officials of the Tehreek-e-Taliban Pakistan "
        "said the Foreign Office and the National Security Council met. The Council said and "
        "the Minister spoke."
    )
    second = body.index("Tehreek-e-Taliban Pakistan said")
    council = body.index("Council met")
    mentions = [
        *mentions_in(body, [("Tehreek-e-Taliban Pakistan", "ORG")]),
        RawMention("Tehreek-", "ORG", 0.6, second, second + 8),  # a trailing hyphen
        RawMention("Pakistan", "LOC", 0.7, second + 18, second + 26),  # a piece of a longer name
        *mentions_in(body, [("Foreign Office", "ORG"), ("National Security Council", "ORG")]),
        RawMention("Council", "ORG", 0.5, council, council + 7),  # inside "National Security Council"
        *mentions_in(body, [("and", "ORG")]),  # a lowercase function word
        *mentions_in(body, [("Minister", "PER")]),  # a lone title word
    ]
    names = _names(canonicalise(mentions, body))
    assert names == {"Tehreek-e-Taliban Pakistan", "Foreign Office", "National Security Council"}


def test_a_lone_office_word_is_dropped_but_a_name_standing_alone_is_kept() -> None:
    body = "Foreign said. Taliban fighters attacked. The Tehrik-e-Taliban Pakistan denied it."
    mentions = mentions_in(
        body, [("Foreign", "ORG"), ("Taliban", "ORG"), ("Tehrik-e-Taliban Pakistan", "ORG")]
    )
    assert _names(canonicalise(mentions, body)) == {"Taliban", "Tehrik-e-Taliban Pakistan"}


def test_compounds_are_cut_to_their_name() -> None:
    body = "The US-backed government and pro-Taliban groups met Hillary Clinton,during talks."
    mentions = mentions_in(
        body, [("US-backed", "LOC"), ("pro-Taliban", "ORG"), ("Hillary Clinton,during", "PER")]
    )
    assert _names(canonicalise(mentions, body)) == {"US", "Taliban", "Hillary Clinton"}


def test_archive_names_do_not_depend_on_which_document_came_first() -> None:
    from shared.names.aliases import build_table

    table = build_table(None)
    one = "Al-Qaeda and the US met."
    two = "al-Qaeda and the United States met; U.S. officials said."
    first = canonicalise(mentions_in(one, [("Al-Qaeda", "ORG"), ("US", "LOC")]), one, table)
    second = canonicalise(
        mentions_in(two, [("al-Qaeda", "ORG"), ("United States", "LOC"), ("U.S.", "LOC")]), two, table
    )
    assert first.entities.organization == second.entities.organization == ["Al-Qaeda"]
    assert first.entities.location == second.entities.location == ["United States"]
    assert {e.name: e.count for e in second.entity_list}["United States"] == 2
    # The mentions keep their own text; only the canonical name is the archive's.
    assert [m.text for m in second.mentions] == ["al-Qaeda", "United States", "U.S."]


def test_a_type_tie_goes_to_the_type_the_tagger_was_surer_of() -> None:
    body = "Pakistan said. Pakistan went. Pakistan came. Pakistan left."
    starts = [m.start() for m in re.finditer("Pakistan", body)]
    labels = [("ORG", 0.62), ("LOC", 0.67), ("ORG", 0.64), ("LOC", 0.92)]
    mentions = [
        RawMention("Pakistan", label, score, s, s + 8)
        for s, (label, score) in zip(starts, labels, strict=True)
    ]
    result = canonicalise(mentions, body)
    assert result.entities.location == ["Pakistan"] and result.entities.organization == []
