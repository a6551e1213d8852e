"""The settings for a command, or a clean exit saying which setting is wrong and why."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from shared.settings import Settings, get_settings


def settings_or_exit() -> Settings:
    """``get_settings()``; invalid settings (a refused secret, a bad URL) end the command with
    exit status 2 and one line per problem, never a traceback or a secret's value."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(part) for part in error.get("loc", ()))
            where = f"DATELINE_{name.upper()}: " if name else ""
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            typer.echo(f"[dateline] error: invalid settings: {where}{message}", err=True)
        raise typer.Exit(2) from None
