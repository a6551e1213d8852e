"""Where the tests find things: one definition for every test module and support helper."""

from __future__ import annotations

from shared.paths import PROJECT_DIR

REPO_DIR = PROJECT_DIR
FIXTURES = REPO_DIR / "tests" / "fixtures"
SEEDS = FIXTURES / "seeds"
NER_CORPUS = FIXTURES / "ner"
SUMMARIES = FIXTURES / "summaries"
INGEST_FIXTURES = FIXTURES / "ingest"
KIBANA_DIR = REPO_DIR / "deploy" / "kibana"
# Everything tests write lives under here (ignored by git); sessions get their own folders.
TEST_DATA = REPO_DIR / ".dateline" / "test"
MODEL_CACHE = TEST_DATA / "models"
