"""`dateline health SERVICE`: exit 0 when a process of SERVICE on this host has a live
heartbeat (compose's healthcheck for ingest, the indexer and the workers)."""

from __future__ import annotations

import socket

import redis
import typer

from services.stack.health import live_heartbeats
from services.stack.topology import DATELINE_SERVICES
from shared.redis_client import connect, display_url
from shared.settings import get_settings


def health_command(
    service: str = typer.Argument(..., help=f"One of: {', '.join(DATELINE_SERVICES)}."),
) -> None:
    """Exit 0 when SERVICE runs on this host: it has a live heartbeat in state running."""
    if service not in DATELINE_SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; choose from {', '.join(DATELINE_SERVICES)}")
    settings = get_settings()
    host = socket.gethostname()
    try:
        beats = live_heartbeats(connect(settings.redis_url), service, host)
    except redis.RedisError as exc:
        typer.echo(f"unhealthy: Redis at {display_url(settings.redis_url)} does not answer ({exc})", err=True)
        raise typer.Exit(1) from None
    running = [beat for beat in beats if beat.state == "running"]
    if running:
        typer.echo(
            f"{service} on {host}: {len(running)} live process(es), pid {', '.join(str(b.pid) for b in running)}"
        )
        return
    if beats:
        typer.echo(f"unhealthy: {service} on {host} is still starting", err=True)
    else:
        typer.echo(
            f"unhealthy: no live heartbeat of {service} on {host}; is `dateline serve {service}` "
            "running here? Its log says why not",
            err=True,
        )
    raise typer.Exit(1)
