"""Intake on its own event loop, in its own thread: acks never queue behind jobs.

In one default `wizard serve` process (`--role all`), the HTTP server, Bolt's signature check,
dedup + XADD and the ack run here, on a loop that runs nothing else; the stage workers run on the
main loop. A job's CPU (rendering, SDK parsing, redaction) then delays an ack only by a thread
switch, not by a place in the same loop's queue — the difference between ack p99 ≈ 200 ms and a
few ms at 200 events/s. The intake loop has its own Redis connections and Slack client (asyncio
objects belong to one loop); both loops share the process's metrics and memory.

`--role intake` / `--role worker` still split the two across processes (or hosts) for scale-out.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.app import Runtime

log = structlog.get_logger(__name__)

SWITCH_INTERVAL_S = 0.001
"""How long a busy thread may keep the GIL while another waits (CPython's default is 5 ms):
shorter, so an ack waits at most about a millisecond per hand-over for a job's pure-Python work."""


class IntakeThread:
    """Runs an intake-role runtime (HTTP, optionally Socket Mode) on a loop in a thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str,
        port: int,
        socket_mode: bool = False,
        workers_alive: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.socket_mode = socket_mode
        self.workers_alive = workers_alive
        self.runtime: Runtime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="wizard-intake", daemon=True)

    def start(self, timeout: float = 120.0) -> int:
        """Start the thread and wait until it listens; returns the bound port. A start-up
        failure (port taken, Redis unreachable) is raised here, in the caller's thread."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("intake did not start")
        if self._error is not None:
            raise self._error
        assert self.runtime is not None and self.runtime.port is not None
        return self.runtime.port

    def stop(self, timeout: float = 30.0) -> None:
        """Close the listeners (in-flight requests complete) and the intake loop's clients."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(), or logged once running
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("intake_thread_failed")

    async def _serve(self) -> None:
        from bot.app import build_runtime

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runtime = await build_runtime(
            self.settings, role="intake", workers_alive=self.workers_alive
        )
        self.runtime = runtime
        try:
            await runtime.start_http(host=self.host, port=self.port)
            if self.socket_mode:
                assert self.settings.slack_app_token is not None
                await runtime.start_socket_mode(self.settings.slack_app_token.get_secret_value())
            log.info("intake_loop_started", port=runtime.port)
            self._ready.set()
            await self._stop.wait()
        finally:
            await runtime.stop(drain_s=0)
