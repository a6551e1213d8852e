"""Summary evaluation: the SummaryStage against Lead-3 on hand-written references.

``python -m services.worker.evaluation`` (``make eval``) reads every article in
``tests/fixtures/seeds/`` and ``tests/fixtures/summaries/articles/``, cleans it the way
ingest does, summarises it with ``SummaryStage`` and with Lead-3 (the first three sentences
of the same body, same splitter), and scores both against ``tests/fixtures/summaries/<name>.txt``
(abstractive summaries written by people, not copied sentences) with ROUGE-1/2/L F1.

Exit status 1 when the stage's mean ROUGE-L, or its mean of R1/R2/RL, is below Lead-3's:
a summariser that cannot beat "take the first three sentences" should not be the default.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

from shared.text.article import clean_text
from shared.text.sentences import split_sentences

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "tests" / "fixtures" / "seeds"
SUMMARIES = REPO / "tests" / "fixtures" / "summaries"
METRICS = ("rouge1", "rouge2", "rougeL")


@dataclass
class Article:
    name: str
    title: str
    body: str
    reference: str


@dataclass
class Row:
    name: str
    ours: dict[str, float]
    lead: dict[str, float]
    method: str


def clean_article(text: str) -> tuple[str, str]:
    """(title, body) as ingest stores them: the one cleaning every format shares."""
    cleaned = clean_text(text)
    return cleaned.title, cleaned.body


def load_articles(extra_dirs: list[Path] | None = None) -> list[Article]:
    """Every article that has a reference summary; complains about those that do not."""
    articles = []
    for folder in [SEEDS, SUMMARIES / "articles", *(extra_dirs or [])]:
        for path in sorted(folder.glob("*.txt")):
            reference = SUMMARIES / path.name
            if not reference.is_file():
                print(f"warning: no reference summary {reference}; skipping {path.name}", file=sys.stderr)
                continue
            title, body = clean_article(path.read_text(encoding="utf-8"))
            articles.append(Article(path.stem, title, body, reference.read_text(encoding="utf-8").strip()))
    return articles


def lead(body: str, count: int = 3) -> str:
    return " ".join(span.text for span in split_sentences(body)[:count])


def evaluate(articles: list[Article]) -> list[Row]:
    from rouge_score import rouge_scorer

    from services.worker.stages.summary import SummaryStage
    from shared.schemas import ArticleDocument, document_id

    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    stage = SummaryStage()
    stage.warm_up()
    if stage.load_error:
        print(
            f"warning: sentence encoder not loaded ({stage.load_error}); using the fallback", file=sys.stderr
        )
    print("summary stage: {} ({})".format(*stage.describe()))  # which form of the encoder ran
    rows = []
    for article in articles:
        document = ArticleDocument(
            id=document_id(f"eval/{article.name}"),
            source_path=f"eval/{article.name}.txt",
            format="text",
            title=article.title,
            body=article.body,
            content_sha256=hashlib.sha256(article.body.encode()).hexdigest(),
            language="en",
        )
        summary, _indexes, method = stage.summarise(document)
        ours = scorer.score(article.reference, summary)
        base = scorer.score(article.reference, lead(article.body, stage.count))
        rows.append(
            Row(
                article.name,
                {m: ours[m].fmeasure for m in METRICS},
                {m: base[m].fmeasure for m in METRICS},
                method,
            )
        )
    return rows


def report(rows: list[Row]) -> bool:
    """Print the table; True when the stage is at least as good as Lead-3."""
    header = f"{'article':<28} " + " ".join(f"{'ours ' + m:>12} {'lead ' + m:>12}" for m in METRICS)
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = " ".join(f"{row.ours[m]:>12.4f} {row.lead[m]:>12.4f}" for m in METRICS)
        print(f"{row.name[:28]:<28} {cells}")
    ours = {m: mean(r.ours[m] for r in rows) for m in METRICS}
    base = {m: mean(r.lead[m] for r in rows) for m in METRICS}
    print("-" * len(header))
    print(f"{'mean':<28} " + " ".join(f"{ours[m]:>12.4f} {base[m]:>12.4f}" for m in METRICS))
    ours_avg, base_avg = mean(ours.values()), mean(base.values())
    print(f"\nmean of R1/R2/RL: ours {ours_avg:.4f}  lead-3 {base_avg:.4f}")
    print(f"methods: {sorted({r.method for r in rows})}; articles: {len(rows)}")
    ok = ours["rougeL"] >= base["rougeL"] and ours_avg >= base_avg
    print(
        "PASS: the summariser is not worse than Lead-3" if ok else "FAIL: the summariser is worse than Lead-3"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--articles",
        type=Path,
        action="append",
        default=[],
        help="another folder of <name>.txt articles (references in tests/fixtures/summaries/<name>.txt)",
    )
    args = parser.parse_args(argv)
    articles = load_articles(args.articles)
    if not articles:
        print("no articles with reference summaries found", file=sys.stderr)
        return 2
    return 0 if report(evaluate(articles)) else 1


if __name__ == "__main__":
    sys.exit(main())
