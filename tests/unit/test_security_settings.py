"""Secrets: none needed on loopback (the local stack), real ones required anywhere else; the
clients are built with them; no message shows them."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from services.cli.main import app
from shared.redis_client import display_url
from shared.search.client import make_client
from shared.settings import Settings, get_settings, is_loopback, is_placeholder


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_local_stack_on_loopback_needs_no_secret():
    for redis_url, es_url in [
        ("redis://127.0.0.1:6390/0", "http://127.0.0.1:9250"),
        ("redis://localhost:6379/1", "http://localhost:9200,http://127.0.0.2:9201"),
        ("redis://[::1]:6379/0", "http://[::1]:9200"),
        ("unix:///run/redis.sock", "http://127.0.0.1:9200"),
    ]:
        cfg = settings(redis_url=redis_url, elasticsearch_url=es_url)
        assert cfg.elasticsearch_password is None and cfg.elasticsearch_api_key is None


@pytest.mark.parametrize(
    "values, named",
    [
        ({"redis_url": "redis://10.0.0.5:6379/0"}, "DATELINE_REDIS_URL needs its password"),
        ({"redis_url": "redis://:@redis:6379/0"}, "DATELINE_REDIS_URL needs its password"),
        ({"redis_url": "redis://:change-me@redis:6379/0"}, "placeholder"),
        ({"redis_url": "redis://:${REDIS_PASSWORD}@redis:6379/0"}, "placeholder"),
        ({"elasticsearch_url": "http://elasticsearch:9200"}, "needs credentials"),
        (
            {"elasticsearch_url": "https://es.example:9200", "elasticsearch_username": "dateline"},
            "needs credentials",
        ),
        (
            {
                "elasticsearch_url": "https://es.example:9200",
                "elasticsearch_username": "dateline",
                "elasticsearch_password": "",
            },
            "needs credentials",
        ),
        (
            {
                "elasticsearch_url": "https://es.example:9200",
                "elasticsearch_username": "dateline",
                "elasticsearch_password": "changeme",
            },
            "placeholder",
        ),
        (
            {
                "elasticsearch_url": "https://es.example:9200",
                "elasticsearch_username": "dateline",
                "elasticsearch_password": "<password>",
            },
            "placeholder",
        ),
        ({"elasticsearch_url": "http://127.0.0.1:9200,http://10.0.0.7:9200"}, "needs credentials"),
        (
            {"elasticsearch_url": "https://es.example:9200", "elasticsearch_api_key": "your-api-key"},
            "API_KEY",
        ),
    ],
)
def test_beyond_loopback_an_empty_or_placeholder_secret_is_refused(values, named):
    with pytest.raises(ValidationError, match=named.replace("$", r"\$")):
        settings(**values)


def test_real_secrets_beyond_loopback_are_accepted():
    cfg = settings(
        redis_url="redis://:Zq8w-Lp3@redis:6379/0",
        elasticsearch_url="http://elasticsearch:9200",
        elasticsearch_username="dateline",
        elasticsearch_password="Ur7-xk2QmPz",
    )
    assert cfg.elasticsearch_hosts == ["http://elasticsearch:9200"]
    assert "Ur7-xk2QmPz" not in repr(cfg)  # a SecretStr never prints its value
    settings(
        elasticsearch_url="https://es.example:9200",
        elasticsearch_api_key="VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
    )


def test_urls_are_checked():
    with pytest.raises(ValidationError, match="not an Elasticsearch URL"):
        settings(elasticsearch_url="elasticsearch:9200")
    with pytest.raises(ValidationError, match="not in the URL"):
        settings(elasticsearch_url="https://dateline:Ur7xk2@es.example:9200")
    with pytest.raises(ValidationError, match="does not exist"):
        settings(elasticsearch_ca_certs="/nonexistent/ca.pem")


def test_loopback_and_placeholders():
    assert (
        is_loopback("redis://127.0.0.1/0")
        and is_loopback("http://127.8.9.1:9200")
        and is_loopback("http://[::1]")
    )
    assert not is_loopback("redis://10.0.0.1/0") and not is_loopback("http://elasticsearch:9200")
    assert not is_loopback("http://localhost.example.com:9200")
    for value in (
        "",
        "  ",
        None,
        "changeme",
        "CHANGE_ME",
        "password",
        "<secret>",
        "${ELASTIC_PASSWORD}",
        "xxxxxxxx",
    ):
        assert is_placeholder(value), value
    assert not is_placeholder("k3J9-xq2LmP")


def test_the_client_is_built_with_the_credentials_and_every_node(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = settings(
        elasticsearch_url="https://es1.example:9200, https://es2.example:9200",
        elasticsearch_username="dateline",
        elasticsearch_password="Ur7-xk2QmPz",
        elasticsearch_ca_certs=ca,
    )
    client = make_client(settings=cfg)
    transport = client.transport
    assert sorted(node.base_url for node in transport.node_pool.all()) == [
        "https://es1.example:9200",
        "https://es2.example:9200",
    ]
    auth = client._headers.get("authorization", "")
    assert auth.startswith("Basic ")
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "dateline:Ur7-xk2QmPz"
    assert all(node.config.ca_certs == str(ca) for node in transport.node_pool.all())
    assert client._max_retries == 1  # one failover to the other node


def test_the_client_sends_an_api_key():
    cfg = settings(elasticsearch_url="https://es.example:9200", elasticsearch_api_key="a2V5OnNlY3JldA==")
    client = make_client(settings=cfg)
    assert client._headers.get("authorization") == "ApiKey a2V5OnNlY3JldA=="
    assert client._max_retries == 0


def test_a_loopback_client_sends_no_credentials():
    client = make_client("http://127.0.0.1:9200", settings=settings())
    assert "authorization" not in client._headers


def test_passwords_never_appear_in_messages():
    assert display_url("redis://:Zq8w-Lp3@redis:6379/0") == "redis://:***@redis:6379/0"
    assert display_url("redis://127.0.0.1:6390/0") == "redis://127.0.0.1:6390/0"


def test_a_service_refuses_to_start_with_a_placeholder_secret(monkeypatch):
    monkeypatch.setenv("DATELINE_REDIS_URL", "redis://:change-me@10.0.0.5:6379/0")
    monkeypatch.delenv("DATELINE_ENV_FILE", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "indexer"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "invalid settings: Redis at 10.0.0.5" in result.output and "placeholder" in result.output
    assert "change-me" not in result.output and "Traceback" not in result.output


def _dateline(tmp_path, env: dict[str, str], *args: str):
    """The real `dateline` command in a process of its own, in a folder without a .env."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATELINE_")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "PYTHONPATH": str(repo), **env},
        check=False,
    )


@pytest.mark.parametrize("args", [["status"], ["search", "taliban"], ["serve", "ingest"]])
def test_settings_errors_show_no_secret_in_any_command(tmp_path, args):
    # A placeholder Redis password beyond loopback is refused; the message (and pydantic's
    # input_value, which quotes every setting given) must not carry the other secrets.
    secret = "Zk4-very-private-8Qw"
    result = _dateline(
        tmp_path,
        {
            "DATELINE_REDIS_URL": "redis://:change-me@10.0.0.5:6379/0",
            "DATELINE_ELASTICSEARCH_URL": "http://127.0.0.1:9250",
            "DATELINE_ELASTICSEARCH_PASSWORD": secret,
        },
        *args,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "DATELINE_REDIS_URL needs its password" in output and "Traceback" not in output
    assert secret not in output and "change-me" not in output


def test_a_bad_url_is_quoted_without_its_password(tmp_path):
    secret = "Zk4-very-private-8Qw"
    result = _dateline(
        tmp_path, {"DATELINE_ELASTICSEARCH_URL": f"htp://elastic:{secret}@10.0.0.5:9200"}, "search", "taliban"
    )
    output = result.stdout + result.stderr
    assert (
        result.returncode == 2
        and "DATELINE_ELASTICSEARCH_URL: 'htp://elastic:***@10.0.0.5:9200' is not" in output
    )
    assert secret not in output


def test_url_passwords_are_masked_in_any_text():
    from services.cli.settings import mask_url_passwords

    assert (
        mask_url_passwords("at redis://:p%40ss@h:6379/0 and http://u:x@y, redis://h:1")
        == "at redis://:***@h:6379/0 and http://u:***@y, redis://h:1"
    )
    assert (
        mask_url_passwords("write redis://:PASSWORD@HOST:PORT/DB") == "write redis://:PASSWORD@HOST:PORT/DB"
    )
