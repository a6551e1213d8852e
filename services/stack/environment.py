"""What a supervised program's environment holds, and when it changed.

supervisord starts from a clean environment (PATH, HOME, LANG): a user's shell variables
never leak into it, and no setting has to survive supervisord's config syntax (``%``
expansion, quoting, ``;`` comments). Each Dateline program instead gets an env file, JSON
written here and loaded by ``dateline serve`` (``DATELINE_ENV_FILE``) before any setting is
read: every ``DATELINE_*`` variable from the caller's environment and ``.env`` (the
environment wins, as in ``shared.settings``), plus a few variables that libraries read
(model caches, proxies, thread counts). JSON holds any value as it is: JSON itself, quotes,
``%``.

The env file of a running program is what it was started with, so ``dateline stack up``
compares it with what it would write now: a program restarts only when a setting its
service reads (``Settings.names_used_by``) or a ``DATELINE_*`` variable outside the settings
(``DATELINE_LOG_LEVEL``) changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path

from dotenv import dotenv_values

from shared.settings import Settings

ENV_FILE_VARIABLE = "DATELINE_ENV_FILE"
PREFIX = str(Settings.model_config.get("env_prefix", "DATELINE_")).upper()
# Read by the libraries the services use, not by Dateline: passed through unchanged.
PASSTHROUGH_PREFIXES = ("HF_", "TRANSFORMERS_", "FLAIR_", "TORCH_", "OMP_", "MKL_", "SSL_CERT_")
PASSTHROUGH_NAMES = {
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "XDG_CACHE_HOME",
    "TZ",
}


def _setting_variable(name: str) -> str:
    return PREFIX + name.upper()


SETTING_VARIABLES = {_setting_variable(name) for name in Settings.model_fields}


def configured(environ: Mapping[str, str], dotenv: Path | None = None) -> dict[str, str]:
    """Every ``DATELINE_*`` variable a service started from ``environ`` would see: ``.env``
    first, the environment over it (names upper-cased: settings ignore case)."""
    values: dict[str, str] = {}
    sources: list[Mapping[str, str | None]] = []
    if dotenv is not None and dotenv.is_file():
        sources.append(dotenv_values(dotenv))
    sources.append(environ)
    for source in sources:
        for key, value in source.items():
            if value is not None and key.upper().startswith(PREFIX):
                values[key.upper()] = value
    values.pop(ENV_FILE_VARIABLE, None)
    return values


def program_environment(environ: Mapping[str, str], dotenv: Path | None = None) -> dict[str, str]:
    """The env file's content for a program started from ``environ``."""
    passed = {
        key: value
        for key, value in environ.items()
        if key in PASSTHROUGH_NAMES or key.startswith(PASSTHROUGH_PREFIXES)
    }
    return dict(sorted({**passed, **configured(environ, dotenv)}.items()))


def watched_variables(service: str, names: Iterable[str]) -> set[str]:
    """Of ``names``, those whose change matters to ``service``: the settings it reads and
    every ``DATELINE_*`` variable that is no setting (read directly, e.g. the log level)."""
    used = {_setting_variable(name) for name in Settings.names_used_by(service)}
    return {
        name for name in names if name.startswith(PREFIX) and (name in used or name not in SETTING_VARIABLES)
    }


def changed_settings(service: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """The variables ``service`` reads that differ between two environments, sorted."""
    names = watched_variables(service, old.keys() | new.keys())
    return sorted(name for name in names if old.get(name) != new.get(name))


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Atomically, readable only by us: values may hold passwords (a Redis URL)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    # O_EXCL on a fresh name: an old partial file keeps its old mode when merely truncated.
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(dict(values), out, indent=1, sort_keys=True)
    os.replace(partial, path)


def read_env_file(path: Path) -> dict[str, str] | None:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ValueError(f"{path} is not an env file of `dateline stack` (a JSON object of strings)")
    return values


def load_env_file(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Load the file named by ``DATELINE_ENV_FILE`` (if set) into ``environ`` (default: this
    process's environment); its values win over what is there. Returns the file loaded."""
    environ = os.environ if environ is None else environ
    name = environ.get(ENV_FILE_VARIABLE)
    if not name:
        return None
    path = Path(name)
    values = read_env_file(path)
    if values is None:
        raise FileNotFoundError(
            f"{ENV_FILE_VARIABLE}={path} does not exist; start the program with "
            f"`dateline stack up`, or unset {ENV_FILE_VARIABLE}"
        )
    environ.update(values)
    return path
