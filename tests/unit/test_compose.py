"""docker-compose.yml cannot run here (no Docker engine); check what can be checked."""

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from services.cli.main import app
from services.stack.topology import PROGRAMS

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_has_every_part():
    # One worker serving every stage, as in the local stack (issue 18: was one for NER and
    # one for the light stages).
    assert {
        "redis",
        "elasticsearch",
        "kibana",
        "kibana-setup",
        "ingest",
        "worker",
        "indexer",
        "delivery",
        "api",
    } <= set(SERVICES)
    assert not {"worker-ner", "worker-light"} & set(SERVICES)


def test_elasticsearch_and_kibana_match_the_tested_version():
    script = (REPO / "deploy/local/common.sh").read_text()
    tested = re.search(r'ES_VERSION="\$\{DATELINE_ES_VERSION:-([0-9.]+)\}"', script).group(1)
    assert SERVICES["elasticsearch"]["image"].endswith(":" + tested)
    assert SERVICES["kibana"]["image"].endswith(":" + tested)
    assert SERVICES["elasticsearch"]["image"].startswith("docker.elastic.co/")


def test_every_dateline_command_exists():
    runner = CliRunner()
    for name, service in SERVICES.items():
        command = service.get("command")
        if not command or command[0] != "dateline":
            continue
        result = runner.invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_kibana_setup_script_exists():
    command = SERVICES["kibana-setup"]["command"]
    assert (REPO / command[-1].removeprefix("/app/")).exists()


def test_ports_are_bound_to_loopback_only():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_app_services_share_one_image_built_from_deploy():
    built = [s for s in SERVICES.values() if "build" in s]
    assert len(built) >= 5
    assert {s["build"]["dockerfile"] for s in built} == {"deploy/Dockerfile"}
    assert {s["image"] for s in built} == {"dateline:latest"}
    assert (REPO / "deploy/Dockerfile").exists()


def test_inbox_is_mounted_read_only_into_ingest():
    assert "./inbox:/data/inbox:ro" in SERVICES["ingest"]["volumes"]


def test_worker_is_scalable():
    # --scale needs no fixed container name or host port.
    assert "container_name" not in SERVICES["worker"] and "ports" not in SERVICES["worker"]


# --- compose runs the topology of the local stack (services/stack/topology.py) ---------------

APP_SERVICES = {
    name: s
    for name, s in SERVICES.items()
    if s.get("image") == "dateline:latest" and s.get("restart") != "no"
}  # kibana-setup: a one-shot job, not a program


def test_compose_runs_the_programs_of_the_topology_with_the_same_commands():
    assert set(APP_SERVICES) == {p.name for p in PROGRAMS}
    for program in PROGRAMS:
        assert APP_SERVICES[program.name]["command"] == ["dateline", "serve", *program.serve_args], (
            program.name
        )


def test_every_app_service_has_the_topology_health_check():
    runner = CliRunner()
    for program in PROGRAMS:
        check = APP_SERVICES[program.name].get("healthcheck")
        assert check and check.get("test"), f"{program.name} has no healthcheck"
        test = check["test"]
        if program.health.kind == "heartbeat":
            assert test == ["CMD", "dateline", "health", program.health.target], program.name
            result = runner.invoke(app, [*test[2:], "--help"])
            assert result.exit_code == 0, result.output
        else:
            assert program.health.kind == "http"
            assert test[0] == "CMD" and any(arg.endswith(":8000" + program.health.target) for arg in test), (
                test
            )


def test_app_services_wait_for_healthy_redis_and_elasticsearch():
    for name, service in APP_SERVICES.items():
        depends = service.get("depends_on", {})
        assert {"redis", "elasticsearch"} <= set(depends), name
        assert all(d.get("condition") == "service_healthy" for d in depends.values()), (name, depends)
        for dependency in depends:
            assert SERVICES[dependency].get("healthcheck"), (
                f"{name} waits for {dependency}, which has no healthcheck"
            )


# --- security on by default --------------------------------------------------------------


def _secret_names(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z_]+):\?", text))


COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text()


def _interpolate(value: str, secrets: dict[str, str]) -> str:
    """Compose's ${NAME:?message} and ${NAME:-default}, with ``secrets`` as the .env."""
    value = re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", lambda m: secrets[m.group(1)], str(value))
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: secrets.get(m.group(1), m.group(2)), value)


def test_every_secret_comes_from_env_and_make_setup_generates_it():
    from deploy.env_secrets import SECRETS

    assert _secret_names(COMPOSE_TEXT) == set(SECRETS)
    assert (
        "deploy/env_secrets.py" in (REPO / "Makefile").read_text().split("\nsetup:", 1)[1].split("\n\n", 1)[0]
    )
    # No secret is written into the file itself.
    assert not re.search(r"(PASSWORD|ENCRYPTIONKEY):\s+[^$\s]", COMPOSE_TEXT)


def test_elasticsearch_requires_logins_and_its_health_check_logs_in_as_dateline():
    es = SERVICES["elasticsearch"]
    assert es["environment"]["xpack.security.enabled"] == "true"
    assert es["environment"]["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    check = " ".join(es["healthcheck"]["test"])
    # Healthy only once es-setup has made the user the services log in as.
    user = APP_SERVICES["indexer"]["environment"]["DATELINE_ELASTICSEARCH_USERNAME"]
    assert f'printf \'user = "{user}:%s"\\n\' "$$ES_DATELINE_PASSWORD" | curl -fs -K - ' in check


def test_es_setup_makes_the_accounts_once():
    job = SERVICES["es-setup"]
    assert job["image"] == SERVICES["elasticsearch"]["image"] and job["restart"] == "no"
    mount = next(v for v in job["volumes"] if v.endswith(":ro"))
    script = (REPO / mount.split(":")[0]).read_text()
    assert job["command"][-1] == mount.split(":")[1]
    assert "/_security/user/kibana_system/_password" in script and "KIBANA_SYSTEM_PASSWORD" in script
    assert "/_security/user/dateline" in script and "/_security/role/dateline" in script
    assert job["depends_on"]["elasticsearch"]["condition"] == "service_started"  # it waits itself


def test_kibana_has_its_own_account():
    env = SERVICES["kibana"]["environment"]
    assert env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert env["ELASTICSEARCH_PASSWORD"].startswith("${KIBANA_SYSTEM_PASSWORD:?")
    assert all(env[k].startswith("${KIBANA_ENCRYPTION_KEY:?") for k in env if k.endswith("ENCRYPTIONKEY"))


def test_redis_requires_a_password_and_its_health_check_authenticates():
    redis = SERVICES["redis"]
    # The password reaches Redis in a config file written by the start script, not argv.
    assert redis["entrypoint"] == ["sh", "/usr/local/share/dateline/redis-start.sh"]
    assert "./deploy/redis/start.sh:/usr/local/share/dateline/redis-start.sh:ro" in redis["volumes"]
    assert not any("REDIS_PASSWORD" in arg or "requirepass" in arg for arg in redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    assert "PONG" in " ".join(redis["healthcheck"]["test"])  # NOAUTH would not do


def test_redis_is_a_maintained_line_with_the_2025_lua_fixes():
    # CVE-2025-49844 and its siblings are fixed in 8.2.2, 8.0.4, 7.4.6, 7.2.11 and 6.2.20;
    # 7.0 is end of life. A pinned patch release, not a moving tag.
    image = SERVICES["redis"]["image"]
    name, _, tag = image.partition(":")
    assert name == "redis" and re.fullmatch(r"\d+\.\d+\.\d+(-\w+)?", tag), image
    version = tuple(int(part) for part in tag.split("-")[0].split("."))
    fixed = {(8, 2): 2, (8, 0): 4, (7, 4): 6, (7, 2): 11}
    assert version[:2] in fixed and version[2] >= fixed[version[:2]], f"{image} lacks the 2025 Lua fixes"


def test_no_secret_is_passed_as_a_program_argument_in_compose():
    # A healthcheck's CMD-SHELL line is a command line: a password must reach curl another way.
    for name, service in SERVICES.items():
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        assert not re.search(r"-u\s+\S*PASSWORD", test), name
        assert "--requirepass" not in " ".join(service.get("command") or []), name
    for script in ("deploy/elasticsearch/setup.sh", "deploy/kibana/setup.sh"):
        text = (REPO / script).read_text()
        assert not re.search(r"curl[^\n]*-u ", text), script
        assert not re.search(r'-d "\{\\"password', text), script


PLACEHOLDERS = [
    "",
    "change-me",
    "CHANGE-ME",
    "changeme",
    "<password>",
    "${REDIS_PASSWORD}",
    "password",
    "elastic",
]


def _run(command: list[str], env: dict[str, str], tmp_path: Path):
    import subprocess

    return subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_es_setup_refuses_placeholder_secrets_before_any_network(tmp_path, placeholder):
    real = {
        "ELASTIC_PASSWORD": "Rnd-1-q8ZxL2",
        "KIBANA_SYSTEM_PASSWORD": "Rnd-2-q8ZxL2",
        "ES_DATELINE_PASSWORD": "Rnd-3-q8ZxL2",
    }
    for name in real:
        # No Elasticsearch listens there: only the check can end the script with its message.
        result = _run(
            ["bash", str(REPO / "deploy/elasticsearch/setup.sh")],
            {**real, name: placeholder, "ES_URL": "http://127.0.0.1:9", "ES_WAIT_SECONDS": "0"},
            tmp_path,
        )
        assert (
            result.returncode == 1 and f"es-setup: {name} in .env is empty or a placeholder" in result.stderr
        )
        assert "make setup" in result.stderr and "waiting for Elasticsearch" not in result.stdout


def test_es_setup_goes_on_with_real_secrets(tmp_path):
    real = {
        "ELASTIC_PASSWORD": "Rnd-1-q8ZxL2",
        "KIBANA_SYSTEM_PASSWORD": "Rnd-2-q8ZxL2",
        "ES_DATELINE_PASSWORD": "Rnd-3-q8ZxL2",
    }
    result = _run(
        ["bash", str(REPO / "deploy/elasticsearch/setup.sh")],
        {**real, "ES_URL": "http://127.0.0.1:9", "ES_WAIT_SECONDS": "0"},
        tmp_path,
    )
    assert "waiting for Elasticsearch" in result.stdout and "placeholder" not in result.stderr
    assert "did not accept elastic's password" in result.stderr  # nothing listens on port 9


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_kibana_setup_and_redis_refuse_placeholder_secrets(tmp_path, placeholder):
    kibana = _run(
        ["sh", str(REPO / "deploy/kibana/setup.sh")],
        {"KIBANA_USER": "elastic", "KIBANA_PASSWORD": placeholder, "KIBANA_URL": "http://127.0.0.1:9"},
        tmp_path,
    )
    assert kibana.returncode == 1 and "KIBANA_PASSWORD (ELASTIC_PASSWORD in .env)" in kibana.stderr
    redis = _run(
        ["sh", str(REPO / "deploy/redis/start.sh")],
        {"REDIS_PASSWORD": placeholder, "REDIS_CONF": str(tmp_path / "redis.conf")},
        tmp_path,
    )
    assert redis.returncode == 1 and "REDIS_PASSWORD in .env is empty or a placeholder" in redis.stderr
    assert not (tmp_path / "redis.conf").exists()


def test_the_scripts_know_every_placeholder_the_settings_refuse(tmp_path):
    from shared.settings import PLACEHOLDER_SECRETS

    for value in sorted(PLACEHOLDER_SECRETS):
        redis = _run(
            ["sh", str(REPO / "deploy/redis/start.sh")],
            {"REDIS_PASSWORD": value, "REDIS_CONF": str(tmp_path / "redis.conf")},
            tmp_path,
        )
        assert redis.returncode == 1, value


def test_redis_starts_with_its_password_in_a_private_file_only(tmp_path):
    """The compose start script, run here with the real redis-server on a free port."""
    import shutil
    import time

    import redis as redis_client

    from tests.support.services import free_port

    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port, password, conf = free_port(), "Rnd-7-q8ZxL2-secret", tmp_path / "redis.conf"
    import subprocess

    process = subprocess.Popen(
        [
            "sh",
            str(REPO / "deploy/redis/start.sh"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        env={
            "PATH": f"{Path(server).parent}:/usr/bin:/bin",
            "REDIS_PASSWORD": password,
            "REDIS_CONF": str(conf),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        client = redis_client.Redis(port=port, password=password)
        for _ in range(200):
            try:
                assert client.ping()
                break
            except redis_client.ConnectionError:
                time.sleep(0.05)
        assert client.ping()
        assert conf.stat().st_mode & 0o777 == 0o600
        assert password.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        with pytest.raises(redis_client.AuthenticationError):
            redis_client.Redis(port=port, password="wrong").ping()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_dateline_services_settings_accept_the_compose_secrets_and_refuse_placeholders():
    from shared.settings import Settings

    real = {name: f"Rnd-{i}-q8ZxL2" for i, name in enumerate(_secret_names(COMPOSE_TEXT))}
    placeholders = dict.fromkeys(real, "change-me")
    for name, service in APP_SERVICES.items():
        for secrets, ok in ((real, True), (placeholders, False)):
            values = {
                key.removeprefix("DATELINE_").lower(): _interpolate(value, secrets)
                for key, value in service["environment"].items()
                if key.startswith("DATELINE_")
            }
            if ok:
                settings = Settings(_env_file=None, **values)
                assert settings.redis_url.startswith("redis://:Rnd-"), name
                assert settings.elasticsearch_password is not None, name
            else:
                with pytest.raises(ValueError, match="placeholder"):
                    Settings(_env_file=None, **values)


def test_delivery_gets_the_webhook_secret_and_the_smtp_server():
    environment = SERVICES["delivery"]["environment"]
    assert "run make setup" in environment["DATELINE_WEBHOOK_SECRET"]  # compose refuses to start without
    assert {"DATELINE_SMTP_HOST", "DATELINE_SMTP_PORT", "DATELINE_SMTP_STARTTLS"} <= set(environment)
    # The shared connection settings are kept (the anchor merged, not replaced).
    assert environment["DATELINE_ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
