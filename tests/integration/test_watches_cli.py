"""``dateline watch`` end to end (typer's CliRunner on the real ``dateline`` app) against a real
Elasticsearch and Redis; alerts raised by the real indexer code."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from services.cli.main import app
from shared.search.index import ensure_index
from shared.settings import Settings, get_settings
from shared.watches.models import Alert, Watch, alert_index, watch_index
from tests.integration.test_watches import article, index_documents, make_indexer
from tests.support.indices import drop_dateline_index


@pytest.fixture
def settings(
    es: Elasticsearch, es_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        "DATELINE_INDEX": name,
        "DATELINE_ELASTICSEARCH_URL": es_url,
        "DATELINE_REDIS_URL": redis_url,
        "DATELINE_PUBLIC_URL": "http://desk.example",
        "DATELINE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    cfg = get_settings()
    ensure_index(es, name, cfg)
    yield cfg
    get_settings.cache_clear()
    drop_dateline_index(es, name)
    es.indices.delete(index=[watch_index(name), alert_index(name)], ignore_unavailable=True)


@pytest.fixture
def stream(rclient: redis.Redis) -> Iterator[str]:
    name = f"test:index:{uuid.uuid4().hex[:12]}"
    yield name
    rclient.delete(name, name + ":dead")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_add_list_alerts_remove(
    settings: Settings, es: Elasticsearch, rclient: redis.Redis, stream: str
) -> None:
    indexer = make_indexer(es, rclient, settings, stream)
    earlier = article("Harbour closed", "The harbour closed.")
    index_documents(indexer, rclient, [earlier])

    code, out, err = run(
        "watch",
        "add",
        "Harbour",
        "harbour",
        "--lang",
        "en",
        "--webhook",
        "http://127.0.0.1:9/hook",
        "--backfill",
    )
    assert code == 0, err
    assert "Feed: http://desk.example/watches/Harbour/feed.atom" in out
    assert "Harbour closed" in out  # the backfill

    code, out, err = run("watch", "list", "--json")
    assert code == 0, err
    watches = [Watch.model_validate(w) for w in json.loads(out)]
    assert [(w.name, w.lang, w.webhook) for w in watches] == [("Harbour", ["en"], "http://127.0.0.1:9/hook")]
    assert watches[0].feed_url == "http://desk.example/watches/Harbour/feed.atom"
    code, out, _ = run("watch", "list")
    assert code == 0 and "Harbour" in out and "feed.atom" in out

    fresh = article("Harbour reopened", "The harbour reopened.")
    index_documents(indexer, rclient, [fresh, article("Bread", "Bakers raised prices.")])
    es.indices.refresh(index=alert_index(settings.index))
    code, out, err = run("watch", "alerts", "harbour", "--json")
    assert code == 0, err
    alerts = [Alert.model_validate(a) for a in json.loads(out)]
    assert [a.article.id for a in alerts] == [fresh.id]
    assert alerts[0].webhook is not None and alerts[0].webhook.state == "pending"
    code, out, _ = run("watch", "alerts", "harbour")
    assert code == 0 and "1 alert(s)" in out and "Harbour reopened" in out

    assert run("watch", "remove", "HARBOUR")[0] == 0
    code, out, err = run("watch", "remove", "harbour")
    assert code == 1 and "no watch named" in err
    assert json.loads(run("watch", "list", "--json")[1]) == []


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["watch", "add", "bad!", "x"], 2, "watch name"),
        (["watch", "add", "w", "x", "--since", "someday"], 2, "not understood"),
        (["watch", "add", "w", "x", "--webhook", "http://169.254.169.254/"], 2, "link-local"),
        (["watch", "add", "w", "x", "--email", "a@example.org"], 2, "DATELINE_SMTP_HOST"),
        (["watch", "add", "w", "x", "--email-mode", "weekly"], 2, "email_mode"),
        (["watch", "alerts", "nothing"], 1, "no watch named"),
    ],
)
def test_refusals_say_why(settings: Settings, args: list[str], code: int, words: str) -> None:
    got, _out, err = run(*args)
    assert got == code and words in err, err


def test_a_name_taken_twice(settings: Settings) -> None:
    assert run("watch", "add", "Talks", "talks")[0] == 0
    code, _out, err = run("watch", "add", "talks", "other")
    assert code == 1 and "exists already" in err
