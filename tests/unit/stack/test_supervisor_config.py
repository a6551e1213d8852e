"""The generated supervisord configuration, read back by supervisord's own parser: what
each program runs with, process groups, rotated logs, and paths that need escaping."""

import shlex
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from services.stack.environment import ENV_FILE_VARIABLE
from services.stack.supervisor import MB, Supervisor, SupervisorError
from services.stack.topology import Health, Program, dateline_program


def _read_back(supervisor: Supervisor) -> dict:
    options = ServerOptions()
    options.realize(args=["-c", str(supervisor.conf_path)])
    return {group.name: group.process_configs[0] for group in options.process_group_configs}


def test_programs_run_as_groups_with_rotated_logs_and_settings_in_an_env_file(tmp_path: Path):
    # A folder with a space and a %: both must come back as they are.
    run = tmp_path / "my data %d" / "run"
    supervisor = Supervisor(run, tmp_path / "logs", log_max_bytes=7 * MB, log_backups=2)
    supervisor.write_config()
    ner = dateline_program("worker-ner", "worker", "--queues", "entities", "--name", "ner")
    supervisor.define(ner, autorestart="unexpected", start_retries=3)
    es = Program(
        name="elasticsearch",
        command=(str(tmp_path / "es home" / "bin" / "elasticsearch"), "-E", "a=b c"),
        health=Health("elasticsearch"),
        priority=20,
        stop_seconds=120,
        environment={"ES_JAVA_OPTS": "-Xms512m -Xmx512m", "X": "100%"},
        user="root",
    )
    supervisor.define(es, autorestart="false", start_retries=0)

    configs = _read_back(supervisor)
    worker, search = configs["worker-ner"], configs["elasticsearch"]
    assert shlex.split(worker.command) == list(ner.command)
    assert (worker.stopasgroup, worker.killasgroup, worker.redirect_stderr) == (True, True, True)
    assert worker.autostart is False and worker.startretries == 3
    assert worker.stdout_logfile == str(tmp_path / "logs" / "worker-ner.log")
    assert (worker.stdout_logfile_maxbytes, worker.stdout_logfile_backups) == (7 * MB, 2)
    assert worker.stopwaitsecs == 120
    # No setting in the config: only where the env file is.
    assert worker.environment == {
        ENV_FILE_VARIABLE: str(run / "env" / "worker-ner.json"),
        "PYTHONUNBUFFERED": "1",
    }
    assert search.environment == {"ES_JAVA_OPTS": "-Xms512m -Xmx512m", "X": "100%"}
    assert search.uid == 0 and search.startretries == 0
    assert search.command == f"'{tmp_path}/es home/bin/elasticsearch' -E 'a=b c'"
    assert supervisor.defined() == {"worker-ner", "elasticsearch"}
    supervisor.undefine("elasticsearch")
    assert set(_read_back(supervisor)) == {"worker-ner"}


def test_values_supervisord_cannot_hold_are_refused_with_what_to_do(tmp_path: Path):
    supervisor = Supervisor(tmp_path / "run ;x", tmp_path / "logs")
    with pytest.raises(SupervisorError, match="DATELINE_DATA_DIR"):
        supervisor.write_config()
    fine = Supervisor(tmp_path / "run", tmp_path / "logs")
    bad = Program(
        name="x",
        command=("true",),
        health=Health("redis"),
        priority=1,
        stop_seconds=1,
        environment={"A": 'say "hi"'},
    )
    with pytest.raises(SupervisorError, match="env file"):
        fine.define(bad)


def test_a_deep_run_folder_gets_its_socket_in_the_temp_folder(tmp_path: Path):
    deep = tmp_path / ("d" * 120) / "run"
    supervisor = Supervisor(deep, tmp_path / "logs")
    assert len(str(supervisor.socket_path)) < 100
    assert supervisor.socket_path != Supervisor(tmp_path / ("e" * 120) / "run", tmp_path).socket_path
    assert Supervisor(tmp_path / "run", tmp_path).socket_path == tmp_path / "run" / "supervisord.sock"


def test_supervisord_files_and_their_folders_are_ours_alone(tmp_path: Path):
    # Commands and environments may hold secrets; a lax umask must not make them readable.
    import os

    previous = os.umask(0o000)
    try:
        run = tmp_path / "run"
        run.mkdir(mode=0o777)
        run.chmod(0o777)  # an existing, world-open run folder is closed too
        supervisor = Supervisor(run, tmp_path / "logs")
        (run / "programs").mkdir(mode=0o777)
        (run / "programs" / "api.conf.partial").write_text("left by a crash")
        (run / "programs" / "api.conf.partial").chmod(0o666)
        supervisor.write_config()
        supervisor.define(dateline_program("api", "api"))
    finally:
        os.umask(previous)
    for path in (supervisor.conf_path, supervisor.programs_dir / "api.conf"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    for folder in (run, supervisor.programs_dir, supervisor.env_dir):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
