"""Who may change state: every request that creates, changes or deletes something (watches,
uploads) or makes the server send requests (webhooks) needs the API token.

Searching and reading stay open (on loopback by default, see ``api_allowed_hosts``).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from services.api.deps import SettingsDep


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``, if the request has one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_writer(request: Request, cfg: SettingsDep) -> None:
    """Refuse a state-changing request without the API token (401) or when none is set (403)."""
    if cfg.api_token is None or not cfg.api_token.get_secret_value():
        raise HTTPException(
            status_code=403,
            detail="changes are disabled: no API token is set. Set DATELINE_API_TOKEN (make setup "
            "writes one into .env) and restart the API",
        )
    given = bearer_token(request)
    if given is None or not secrets.compare_digest(given.encode(), cfg.api_token.get_secret_value().encode()):
        raise HTTPException(
            status_code=401,
            detail="this request changes state and needs the API token: send 'Authorization: Bearer "
            "TOKEN' with DATELINE_API_TOKEN from .env",
            headers={"WWW-Authenticate": "Bearer"},
        )


Writer = Annotated[None, Depends(require_writer)]
