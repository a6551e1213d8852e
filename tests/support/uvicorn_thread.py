"""An ASGI app (the API) under a real uvicorn in a thread of the test process, for tests
that need a real HTTP server but not a process of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

START_SECONDS = 30.0  # a safety net, not a bound under test


@contextmanager
def serving(app: Any, port: int, host: str = "127.0.0.1", **options: Any) -> Iterator[uvicorn.Server]:
    """Serve ``app`` on ``host:port`` until the block ends (``options``: uvicorn.Config's)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
