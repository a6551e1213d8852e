"""The one definition of what runs: programs, commands, health checks, ports from the URLs."""

from pathlib import Path

import pytest

from services.stack.topology import (
    DATELINE_SERVICES,
    PROGRAMS,
    ElasticsearchInstall,
    RedisInstall,
    backing_programs,
    dateline_program,
    health_of,
    priority_of,
)
from shared.settings import Settings

REDIS = RedisInstall(server="/usr/bin/redis-server", data=Path("/data/redis"))
ES = ElasticsearchInstall(
    home=Path("/data/es/elasticsearch-8.19.7"),
    java_home=Path("/jvm"),
    data=Path("/data/es/data"),
    logs=Path("/data/es/logs"),
    user="dateline-es",
)


def _settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_local_stack_runs_one_worker_serving_every_stage():
    by_name = {p.name: p for p in PROGRAMS}
    assert set(by_name) == {"ingest", "worker", "indexer", "delivery", "api"}
    # No --queues (every stage) and no --concurrency (one pool process per core): measured by
    # make bench against a worker per stage (tests/bench/topology.py).
    assert by_name["worker"].serve_args == ("worker", "--name", "worker")
    assert {p.service for p in PROGRAMS} == set(DATELINE_SERVICES)
    for program in PROGRAMS:
        assert program.command[1:5] == ("-m", "services.cli.main", "serve", program.service)
        # Each settings-service is one Settings knows (it decides what restarts a program).
        assert Settings.names_used_by(program.service or "")


def test_health_checks_and_start_order():
    assert health_of("api").kind == "http" and health_of("api").target == "/health"
    for name in ("ingest", "indexer", "worker", "delivery"):
        check = health_of(name)
        assert check is not None and check.kind == "heartbeat"
    assert health_of("worker").target == "worker"
    assert health_of("redis").kind == "redis" and health_of("elasticsearch").kind == "elasticsearch"
    assert health_of("kibana") is None
    # Backing services first, the indexer before the workers, ingest and the API last.
    order = ["redis", "elasticsearch", "indexer", "worker", "ingest", "api"]
    assert sorted(order, key=priority_of) == order
    # A worker gets long enough to finish the article in hand before SIGKILL.
    assert dateline_program("w", "worker").stop_seconds > dateline_program("i", "ingest").stop_seconds


def test_unknown_service_is_refused():
    with pytest.raises(ValueError, match="unknown service"):
        dateline_program("x", "kibana")


def test_backing_ports_come_from_the_urls():
    settings = _settings(
        redis_url="redis://127.0.0.1:7001/3",
        elasticsearch_url="http://localhost:7002",
        es_heap="1g",
        es_java_options="",
    )
    redis, es = backing_programs(settings, REDIS, ES)
    assert redis.command == (
        "/usr/bin/redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        "7001",
        "--dir",
        "/data/redis",
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
    )
    options = dict(es.command[i + 1].split("=", 1) for i in range(1, len(es.command), 2))
    assert es.command[0] == "/data/es/elasticsearch-8.19.7/bin/elasticsearch"
    assert options["http.port"] == "7002" and options["network.host"] == "127.0.0.1"
    assert options["discovery.type"] == "single-node" and options["xpack.security.enabled"] == "false"
    assert options["path.data"] == "/data/es/data"
    assert "-d" not in es.command  # in the foreground, watched by supervisord
    assert es.environment["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g" and es.user == "dateline-es"
    more = _settings(es_heap="1g", es_java_options=" -XX:TieredStopAtLevel=1  -Dx=y ")
    (_, quick) = backing_programs(more, REDIS, ES)
    assert quick.environment["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g -XX:TieredStopAtLevel=1 -Dx=y"


def test_default_ports_and_remote_services():
    both = backing_programs(
        _settings(redis_url="redis://localhost/0", elasticsearch_url="http://127.0.0.1"), REDIS, ES
    )
    assert [p.command[p.command.index("--port") + 1] for p in both if p.name == "redis"] == ["6379"]
    assert any("http.port=9200" in arg for arg in both[1].command)
    # Redis or Elasticsearch elsewhere: used, not run here.
    # (Beyond loopback the settings require secrets: see tests/unit/test_security_settings.py.)
    remote = _settings(
        redis_url="redis://:k7Vq2pXw@cache.example:6379/0",
        elasticsearch_url="http://search.example:9200",
        elasticsearch_username="dateline",
        elasticsearch_password="R4nd0m-9qLz",
    )
    assert backing_programs(remote, REDIS, ES) == []


def _options(program) -> dict[str, str]:
    return dict(program.command[i + 1].split("=", 1) for i in range(1, len(program.command), 2))


def test_one_elasticsearch_program_runs_a_node_of_a_cluster():
    from services.stack.topology import ClusterNode, elasticsearch_program

    node = ClusterNode(
        name="es-2",
        transport_port=9302,
        seed_ports=(9301, 9302, 9303),
        masters=("es-1", "es-2", "es-3"),
        cluster="archive",
    )
    es = elasticsearch_program("http://127.0.0.1:9202", "512m", ES, node=node, conf_dir=Path("/conf/es-2"))
    options = _options(es)
    assert es.name == "es-2" and "discovery.type" not in options
    assert options["discovery.seed_hosts"] == "127.0.0.1:9301,127.0.0.1:9302,127.0.0.1:9303"
    assert (
        options["cluster.initial_master_nodes"] == "es-1,es-2,es-3" and options["cluster.name"] == "archive"
    )
    assert options["http.port"] == "9202" and options["transport.port"] == "9302"
    assert options["path.data"] == "/data/es/data/es-2" and options["path.logs"] == "/data/es/logs/es-2"
    assert es.environment["ES_PATH_CONF"] == "/conf/es-2"
    assert es.health.kind == "elasticsearch" and es.health.target == "http://127.0.0.1:9202"  # its own port
    single = elasticsearch_program("http://127.0.0.1:9200", "512m", ES)
    assert _options(single)["discovery.type"] == "single-node" and single.health.target == ""


def test_elasticsearch_reachable_from_another_host_with_security():
    from services.stack.topology import elasticsearch_program

    es = elasticsearch_program("http://127.0.0.1:9200", "512m", ES, also_listen=["10.213.0.1"], security=True)
    options = _options(es)
    # HTTP on both addresses, transport on loopback only (the node stays in development mode).
    assert options["http.host"] == "127.0.0.1,10.213.0.1" and options["transport.host"] == "127.0.0.1"
    assert (
        options["xpack.security.enabled"] == "true" and options["xpack.security.http.ssl.enabled"] == "false"
    )


def test_redis_takes_its_password_from_the_url_into_a_private_config_file(tmp_path):
    from services.stack.topology import redis_program

    install = RedisInstall(server="/usr/bin/redis-server", data=tmp_path / "redis")
    redis = redis_program('redis://:s3cr%40t"x@127.0.0.1:7001/0', install, also_listen=["10.213.0.1"])
    # The config file first (redis-server wants it there), then the options; no password.
    config = Path(redis.command[1])
    assert redis.command[2:5] == ("--bind", "127.0.0.1", "10.213.0.1")
    assert not any("s3cr" in arg for arg in redis.command) and "--requirepass" not in redis.command
    assert config.parent == install.data and 'requirepass "s3cr@t\\"x"' in config.read_text()
    assert config.stat().st_mode & 0o777 == 0o600 and install.data.stat().st_mode & 0o777 == 0o700
    # The same password: the same command (no restart); a new one: a new file, the old one gone.
    assert redis_program('redis://:s3cr%40t"x@127.0.0.1:7001/0', install).command[1] == str(config)
    changed = Path(redis_program("redis://:other@127.0.0.1:7001/0", install).command[1])
    assert changed != config and not config.exists() and "other" not in changed.name
    no_password = redis_program("redis://127.0.0.1:7001/0", install).command
    assert no_password[1] == "--bind" and not any(arg.endswith(".conf") for arg in no_password)


def test_a_redis_password_with_a_line_break_is_refused(tmp_path):
    from services.stack.topology import redis_program

    install = RedisInstall(server="/usr/bin/redis-server", data=tmp_path / "redis")
    with pytest.raises(ValueError, match="line break"):
        redis_program("redis://:a%0Arename-command@127.0.0.1:7001/0", install)


def test_a_program_can_run_through_a_launcher_on_another_host():
    worker = dateline_program("worker-ner", "worker", "--queues", "entities")
    remote = worker.launched_by(("ip", "netns", "exec", "h2"), "h2-worker-ner")
    assert remote.name == "h2-worker-ner" and remote.command[:4] == ("ip", "netns", "exec", "h2")
    assert remote.command[4:] == worker.command and remote.serve_args == worker.serve_args
    assert remote.service == "worker" and remote.stop_seconds == worker.stop_seconds
