"""What the pages show, without a browser or a cluster: links that add and remove filters,
facets, the date histogram, safe highlights, paging, and the article body's marks."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import ValidationError

from services.api.views import (
    PageState,
    chips,
    facet_views,
    highlighted,
    histogram,
    marked_body,
    page_numbers,
    search_params,
)
from shared.schemas import ArticleDocument, Mention
from shared.text.sentences import split_sentences


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def test_filters_are_added_and_removed_by_links_and_start_again_at_page_one():
    state = PageState.from_pairs([("q", "Taliban"), ("page", "3"), ("lang", "en"), ("bogus", "x")])
    assert ("bogus", "x") not in state.items
    added = state.adding("entity", "person=Zalmay Khalilzad")
    assert _query(added.url()) == [("q", "Taliban"), ("lang", "en"), ("entity", "person=Zalmay Khalilzad")]
    assert _query(added.removing("lang", "en").url()) == [
        ("q", "Taliban"),
        ("entity", "person=Zalmay Khalilzad"),
    ]
    assert _query(state.adding("sort", "date").adding("sort", "relevance").url())[-1] == ("sort", "relevance")
    assert _query(state.at_page(2).url())[-1] == ("page", "2")
    assert ("page", "1") not in _query(state.at_page(1).url())


def test_chips_name_each_active_filter_and_remove_only_it():
    state = PageState.from_pairs(
        [("q", "x"), ("lang", "en"), ("entity", "location=Kabul"), ("since", "2023-07")]
    )
    found = {chip.label: _query(chip.remove_url) for chip in chips(state)}
    assert set(found) == {"Language: English", "Place: Kabul", "From 2023-07"}
    assert found["Place: Kabul"] == [("q", "x"), ("lang", "en"), ("since", "2023-07")]


def test_facet_values_filter_and_active_values_unfilter():
    state = PageState.from_pairs([("source", "APP")])
    views = {
        view.facet.title: view
        for view in facet_views(
            state,
            {
                "source": {"APP": 4, "The Nation": 5},
                "entities.person": {"Hina Rabbani Khar": 1},
                "language": {"en": 9},
            },
        )
    }
    app, nation = views["Source"].values
    assert app.active and _query(app.url) == []
    assert not nation.active and _query(nation.url) == [("source", "APP"), ("source", "The Nation")]
    (person,) = views["People"].values
    assert _query(person.url)[-1] == ("entity", "person=Hina Rabbani Khar")
    assert views["Language"].values[0].label == "English"
    assert views["Dateline"].values == []


def test_histogram_bars_filter_to_their_period():
    bars = histogram(PageState.from_pairs([("q", "x")]), {"2023-06": 2, "2023-07": 1, "2023-08": 0})
    assert [(b.label, b.count, b.height) for b in bars] == [
        ("Jun 2023", 2, 100.0),
        ("Jul 2023", 1, 50.0),
        ("Aug 2023", 0, 0.0),
    ]
    assert _query(bars[0].url) == [("q", "x"), ("since", "2023-06"), ("until", "2023-06")]
    (day,) = histogram(PageState(()), {"2023-06-01": 1})
    assert day.label == "1 Jun 2023" and _query(day.url) == [("since", "2023-06-01"), ("until", "2023-06-01")]
    assert histogram(PageState(()), {"2023": 4})[0].label == "2023"
    assert histogram(PageState(()), {}) == []


def test_highlights_keep_marks_and_escape_the_article_text():
    html = str(highlighted('<script>alert(1)</script> the <em>Taliban</em> & "peace"'))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "<mark>Taliban</mark>" in html and "&amp;" in html


def test_page_numbers_show_gaps():
    assert page_numbers(1, 5, 10) == [1]
    assert page_numbers(5, 200, 10) == [1, None, 3, 4, 5, 6, 7, None, 20]
    assert page_numbers(1, 0, 10) == [1]


def test_bad_input_gets_the_apis_message():
    with pytest.raises(ValidationError, match="not understood"):
        search_params(PageState.from_pairs([("since", "last tuesday")]), 10)
    with pytest.raises(ValidationError, match="relevance|date"):
        search_params(PageState.from_pairs([("sort", "random")]), 10)
    assert search_params(PageState.from_pairs([("q", "a"), ("dateline", "KABUL")]), 10).dateline == ["KABUL"]


BODY = (
    "ISLAMABAD - Zalmay Khalilzad met Pakistani officials on Monday. The talks were long.\n\n"
    "Afghanistan's neighbours watched closely. Kabul said nothing."
)


def _doc(**fields: object) -> ArticleDocument:
    return ArticleDocument.model_validate(
        {
            "id": "a" * 32,
            "source_path": "x.txt",
            "format": "text",
            "title": "T",
            "body": BODY,
            "content_sha256": "s",
            **fields,
        }
    )


def _mention(text: str, kind: str, start: int | None = None) -> Mention:
    at = BODY.index(text) if start is None else start
    return Mention(
        text=text, label=kind[:3].upper(), type=kind, canonical=text, score=0.9, start=at, end=at + len(text)
    )


def test_article_body_marks_mentions_at_their_offsets_and_summary_sentences():
    sentences = split_sentences(BODY)
    doc = _doc(
        mentions=[
            _mention("Zalmay Khalilzad", "person"),
            _mention("Kabul", "location"),
            _mention("Afghanistan", "location"),
        ],
        summary_spans=[(sentences[0].start, sentences[0].end), (sentences[3].start, sentences[3].end)],
    )
    marked = marked_body(doc)
    assert "".join(s.text for s in marked.segments) == BODY  # nothing lost, nothing moved
    offset = 0
    for segment in marked.segments:
        if segment.mention is not None:
            assert (segment.mention.start, segment.mention.end) == (offset, offset + len(segment.text))
        offset += len(segment.text)
    in_summary = "".join(s.text for s in marked.segments if s.summary)
    assert in_summary == sentences[0].text + sentences[3].text
    marks = [(s.text, s.mention.type, s.summary) for s in marked.segments if s.mention]
    assert marks == [
        ("Zalmay Khalilzad", "person", True),
        ("Afghanistan", "location", False),
        ("Kabul", "location", True),
    ]


def test_mentions_that_do_not_fit_the_body_are_left_out_and_counted():
    moved = _mention("Zalmay Khalilzad", "person", start=3)  # offsets of another text
    overlapping = Mention(
        text="Khalilzad",
        label="PER",
        type="person",
        canonical="Khalilzad",
        score=0.5,
        start=BODY.index("Khalilzad"),
        end=BODY.index("Khalilzad") + 9,
    )
    doc = _doc(mentions=[moved, _mention("Zalmay Khalilzad", "person"), overlapping])
    marked = marked_body(doc)
    assert marked.ignored_mentions == 2
    assert [s.text for s in marked.segments if s.mention] == ["Zalmay Khalilzad"]
    assert "".join(s.text for s in marked.segments) == BODY


def test_snippets_already_in_the_summary_are_not_shown_twice():
    from services.api.views import new_snippets

    summary = "The Afghan Taliban asked Pakistan to talk. Kabul said nothing."
    fragments = ["The Afghan <em>Taliban</em> asked Pakistan to talk.", "Later the <em>Taliban</em> left."]
    assert new_snippets(fragments, summary) == ["Later the <em>Taliban</em> left."]
    assert new_snippets(fragments, None) == fragments


def test_the_article_page_escapes_the_text_and_keeps_it_exact():
    from services.api.views import stage_rows
    from services.api.web import templates

    body = 'He said "<script>alert(1)</script>" & left Kabul.'
    doc = _doc(
        body=body,
        mentions=[
            Mention(
                text="Kabul",
                label="LOC",
                type="location",
                canonical="Kabul",
                score=0.9,
                start=body.index("Kabul"),
                end=body.index("Kabul") + 5,
            )
        ],
    )
    html = templates.env.get_template("article.html").render(
        doc=doc,
        body=marked_body(doc),
        origin="/inbox/x.txt",
        stages=stage_rows(doc),
        back="",
        asset_version="1",
    )
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'class="ent ent-location" data-start="43" data-end="48"' in html


def test_the_pipeline_page_shows_what_the_reconciler_did_and_crash_loops():
    from services.api.views import pipeline_view
    from services.api.web import templates
    from shared.crashes import WorkerDeath, crash_loops
    from shared.reconciliation import Action, AuditReport, ReconcilerReport, Reconciliation
    from shared.schemas import utcnow
    from shared.status import Status

    deaths = [WorkerDeath(host="h1", node="ner@h1", parent_pid=4, pid=100 + n, exitcode=-9) for n in range(3)]
    reconciliation = Reconciliation(
        last_pass=ReconcilerReport(
            host="h1",
            pid=7,
            seconds=0.2,
            in_flight=2,
            examined=12,
            stuck=1,
            audit=AuditReport(
                alias="articles",
                indices=["articles-v2"],
                expected=40,
                found=38,
                checked_ids=True,
                missing=2,
                requeued_files=2,
            ),
        ),
        totals={"worker died": 1, "missing from the index": 2},
        recent=[
            Action(
                path="/inbox/<b>a</b>.txt",
                reason="worker died",
                detail="entities on h1:9, which is gone",
                outcome="queued again",
            )
        ],
    )
    status = Status(
        files={},
        queues=[],
        processing=[{"stage": "entities", "path": "b.txt", "worker": "h1:9", "worker_alive": False}],
        heartbeats=[],
        failures=[],
        dead_letters=0,
        at=utcnow(),
        in_flight=2,
        reconciliation=reconciliation,
        crash_loops=crash_loops(deaths),
        recent_deaths=deaths,
    )
    html = templates.env.get_template("_pipeline_body.html").render(
        status=status, down=None, view=pipeline_view(status), refresh=5, shown_problems=20
    )
    assert "2 article(s) on their way" in html
    assert (
        "12 looked at, 1 stuck" in html
        and "38 of 40 document(s) found, 2 missing, 2 file(s) queued again" in html
    )
    assert "&lt;b&gt;a&lt;/b&gt;.txt" in html and "<b>a</b>" not in html
    assert "worker died" in html and "queued again" in html
    assert "Crash loop" in html and "ner@h1" in html and "3 pool process deaths" in html
    assert "worker gone: the reconciler takes care of it" in html


def test_the_pipeline_page_counts_untagged_languages_and_documents_tagged_in_part():
    from services.api.views import pipeline_view
    from services.api.web import templates
    from shared.schemas import utcnow
    from shared.search.outcomes import SkippedStage, StageOutcomes
    from shared.status import IndexInfo, Status

    outcomes = StageOutcomes(
        documents=5,
        failed_documents=0,
        failed_by_stage={},
        failed=[],
        skipped=[
            SkippedStage(
                stage="entities",
                code="no_model_for_language",
                reason="no NER model for language 'de'",
                documents=2,
            )
        ],
        untagged_languages={"de": 2, "ar": 1},
        entities_in_part=3,
    )
    status = Status(
        files={},
        queues=[],
        processing=[],
        heartbeats=[],
        failures=[],
        dead_letters=0,
        at=utcnow(),
        index=IndexInfo(
            reachable=True,
            url="http://127.0.0.1:9200",
            alias="articles",
            cluster="green",
            alias_exists=True,
            outcomes=outcomes,
        ),
    )
    html = templates.env.get_template("_pipeline_body.html").render(
        status=status, down=None, view=pipeline_view(status), refresh=5, shown_problems=20
    )
    assert "<strong>de</strong> 2 · <strong>ar</strong> 1" in html and "DATELINE_NER_MODELS" in html
    assert "start of the body only: <strong>3</strong>" in html and "--partial-only" in html
