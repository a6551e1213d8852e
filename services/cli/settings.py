"""The settings for a command, or a clean exit saying which setting is wrong and why."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlparse

import typer
from pydantic import ValidationError

from shared.settings import Settings, get_settings

# scheme://user:PASSWORD@host -> scheme://user:***@host (Redis URLs carry their password).
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:'\"]*:)[^\s@'\"]+@")
SECRET_NAME = re.compile(r"PASSWORD|API_KEY|SECRET|TOKEN", re.IGNORECASE)
MASK = "***"


def mask_url_passwords(text: str) -> str:
    """Every ``scheme://user:PASSWORD@`` in ``text`` with the password replaced by ``***``."""

    def masked(found: re.Match[str]) -> str:
        # The word PASSWORD stands where the user puts theirs (a hint of a message): kept.
        return found.group(0) if found.group(0).endswith(":PASSWORD@") else found.group("head") + MASK + "@"

    return URL_PASSWORD.sub(masked, text)


def secret_values(environ: Mapping[str, str] | None = None) -> set[str]:
    """The secrets a settings message could quote: every ``DATELINE_*`` variable named like
    a secret, and the passwords inside ``DATELINE_*`` URLs (environment and ``.env``)."""
    environ = os.environ if environ is None else environ
    sources: list[Mapping[str, Any]] = [environ]
    dotenv = str(Settings.model_config.get("env_file") or ".env")
    if os.path.isfile(dotenv):
        from dotenv import dotenv_values

        sources.append(dotenv_values(dotenv))
    found = set()
    for source in sources:
        for key, value in source.items():
            if not value or not key.upper().startswith("DATELINE_"):
                continue
            if SECRET_NAME.search(key):
                found.add(value)
            for url in re.findall(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", value):
                try:
                    password = urlparse(url).password
                except ValueError:
                    continue
                if password:
                    found |= {password, unquote(password)}
    return {value for value in found if len(value) >= 3}  # masking "a" would mangle the message


def settings_problems(exc: ValidationError, environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """One line per invalid setting: its variable and pydantic's message, never the value
    given (``errors(include_input=False)``), URL passwords and known secrets masked (a
    validator's own message may quote a URL)."""
    secrets = sorted(secret_values(environ), key=len, reverse=True)
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        name = ".".join(str(part) for part in error.get("loc", ()))
        where = f"DATELINE_{name.upper()}: " if name else ""
        message = mask_url_passwords(str(error.get("msg", "")).removeprefix("Value error, "))
        for secret in secrets:
            message = message.replace(secret, MASK)
        yield f"[dateline] error: invalid settings: {where}{message}"


def exit_for(exc: ValidationError) -> typer.Exit:
    """Print ``exc`` as ``settings_problems`` and return the exit (status 2) to raise."""
    for line in settings_problems(exc):
        typer.echo(line, err=True)
    return typer.Exit(2)


def settings_or_exit() -> Settings:
    """``get_settings()``; invalid settings (a refused secret, a bad URL) end the command with
    exit status 2 and one line per problem, never a traceback or a secret's value."""
    try:
        return get_settings()
    except ValidationError as exc:
        raise exit_for(exc) from None
