"""The uvicorn server ``serve`` runs, in a module of its own so that only ``serve`` imports uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


class Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which would kill the process before the
    runtime is closed; here a signal only stops serving, and ``serve`` returns normally."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()
