"""Intake in its own child process: acks never wait for the jobs' share of the interpreter.

In one default `wizard serve` process (`--role all`), the stage workers run in the parent and the
HTTP server, Bolt's signature check, redaction at the door, dedup + XADD and the ack run in a
child process started here. An intake *thread* was measured first (bench/results/
stages-ack.json): at 200 events/s the jobs need more CPU than the one interpreter lock gives, so
the thread's acks waited behind them (p99 43.7 ms, storm p99 1.97 s). A process has its own
interpreter lock and, on a machine with two cores, its own core.

What the two share:
- Redis (the parent's URL, the embedded server's too): the streams are the hand-over, as between
  `--role intake` and `--role worker` replicas.
- Liveness: the parent sets a shared flag for its workers every half second, so the child's
  /healthz and /readyz still speak for the whole bot; the child dies with the parent
  (`PR_SET_PDEATHSIG`, SIGKILL: a parent killed by the OOM killer leaves no intake acking events
  nobody will run), and the parent stops when the child dies.
- Metrics: the child serves /metrics with the parent's registry merged in (`metrics.merged`),
  fetched over a pipe at scrape time, so one scrape still shows the model calls and the replies.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

import structlog

from bot import metrics
from bot.settings import Settings

log = structlog.get_logger(__name__)

_CTX = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked event loop or locks
PR_SET_PDEATHSIG = 1
METRICS_TIMEOUT_S = 2.0


class IntakeProcess:
    """Starts, watches and stops the intake child; serves it the parent's metrics."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str,
        port: int,
        socket_mode: bool = False,
        log_level: str = "INFO",
    ) -> None:
        self._ports, child_ports = _CTX.Pipe(duplex=False)
        self._metrics, child_metrics = _CTX.Pipe(duplex=True)
        # a plain shared byte: a lock would start multiprocessing's resource-tracker process too
        self._workers_ok: Any = _CTX.Value("b", 1, lock=False)
        self._stopping = threading.Event()
        self._proc = _CTX.Process(
            target=_child_main,
            args=(settings, host, port, socket_mode, log_level, os.getpid()),
            kwargs={"ports": child_ports, "peer": child_metrics, "workers_ok": self._workers_ok},
            name="wizard-intake",
            daemon=False,
        )
        self._child_ends = (child_ports, child_metrics)

    def start_process(self) -> None:
        """Start the child. Call it from the main thread: Linux ties PDEATHSIG to the thread
        that forked, and the main thread lives as long as the parent."""
        self._proc.start()
        for end in self._child_ends:
            end.close()
        threading.Thread(target=self._serve_metrics, name="intake-metrics", daemon=True).start()

    def wait_ready(self, timeout: float = 120.0) -> int:
        """Wait until the child listens; returns the bound port or raises its start-up error."""
        if not self._ports.poll(timeout):
            self.stop()
            raise TimeoutError("intake process did not start")
        try:
            kind, value = self._ports.recv()
        except EOFError:
            raise RuntimeError(f"intake process exited with {self._proc.exitcode}") from None
        if kind == "error":
            self._proc.join(5)
            raise RuntimeError(f"intake process failed to start: {value}")
        return int(value)

    def workers_alive(self, alive: bool) -> None:
        self._workers_ok.value = 1 if alive else 0

    @property
    def alive(self) -> bool:
        return self._proc.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the child (it closes its listeners; in-flight requests complete) and wait."""
        self._stopping.set()
        if self._proc.is_alive() and self._proc.pid is not None:
            os.kill(self._proc.pid, signal.SIGTERM)
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)

    def _serve_metrics(self) -> None:
        """Answer the child's scrape requests with this process's registry (a thread: a pipe
        read must not block the workers' event loop)."""
        while not self._stopping.is_set():
            try:
                if not self._metrics.poll(0.5):
                    continue
                self._metrics.recv()
                self._metrics.send_bytes(metrics.exposition())
            except (EOFError, OSError):
                return


def _warm() -> None:
    """Do once, before saying ready, what the first events would otherwise pay for in their
    acks: detect-secrets loads and compiles its plugins, the parsers run their first match.
    A fresh bot storm-tested without it acked at p99 0.6–1.1 s; 2 s after start, at 40 ms."""
    from bot.alerts.registry import parse_message
    from bot.redact import redact_obj

    redact_obj({"text": "warm-up password=not-a-secret"}, trading=False, thorough=True)
    parse_message({"text": "[FIRING:1] WarmUp (warm-up prod warning)", "attachments": []})
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's way: no full collections mid-storm


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the parent dies; exit now if it already has."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def _child_main(
    settings: Settings,
    host: str,
    port: int,
    socket_mode: bool,
    log_level: str,
    parent_pid: int,
    *,
    ports: Connection,
    peer: Connection,
    workers_ok: Any,
) -> None:
    _die_with_parent(parent_pid)
    from bot.logs import configure_logging

    configure_logging(log_level)
    try:
        asyncio.run(_child_serve(settings, host, port, socket_mode, ports, peer, workers_ok))
    except BaseException as exc:  # reported to the parent's start(), or logged once running
        log.exception("intake_process_failed")
        try:
            ports.send(("error", f"{type(exc).__name__}: {exc}"[:500]))
        except OSError:
            pass
        raise SystemExit(1) from None


async def _child_serve(
    settings: Settings,
    host: str,
    port: int,
    socket_mode: bool,
    ports: Connection,
    peer: Connection,
    workers_ok: Any,
) -> None:
    from bot.app import build_runtime

    lock = threading.Lock()

    def parent_metrics() -> bytes:
        with lock:
            peer.send(None)
            return peer.recv_bytes() if peer.poll(METRICS_TIMEOUT_S) else b""

    async def peer_metrics() -> bytes:
        try:
            return await asyncio.to_thread(parent_metrics)
        except (EOFError, OSError):
            return b""

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime = await build_runtime(
        settings,
        role="intake",
        workers_alive=lambda: bool(workers_ok.value),
        peer_metrics=peer_metrics,
    )
    _warm()
    try:
        bound = await runtime.start_http(host=host, port=port)
        if socket_mode:
            assert settings.slack_app_token is not None
            await runtime.start_socket_mode(settings.slack_app_token.get_secret_value())
        log.info("intake_process_started", port=bound, pid=os.getpid())
        ports.send(("port", bound))
        await stop.wait()
    finally:
        await runtime.stop(drain_s=0)
