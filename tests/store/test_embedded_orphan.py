"""The embedded Redis dies with its parent: a bot killed by SIGKILL (or the OOM killer) leaves
no valkey-server behind holding the data dir and port. Measured from outside: /proc."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

# The parent, as the bot runs it: `start()` from an event loop (the fork happens on an executor
# thread) or `start_sync()` (tests, benchmarks). It prints the server's pid, then waits forever.
PARENT = """
import asyncio, sys, time
from pathlib import Path
from bot.store.embedded import EmbeddedRedis

server = EmbeddedRedis(Path(sys.argv[1]))
if sys.argv[2] == "async":
    async def main() -> None:
        await server.start()
        print("PID", server._proc.pid, flush=True)
        await asyncio.sleep(3600)
    asyncio.run(main())
else:
    server.start_sync()
    print("PID", server._proc.pid, flush=True)
    time.sleep(3600)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie has exited: only its exit status is left for a reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("how", ["async", "sync"])
async def test_embedded_server_dies_when_its_parent_is_killed(tmp_path: Path, how: str) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, str(tmp_path / "redis"), how,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert parent.stdout is not None
    async with asyncio.timeout(30):
        while not (line := await parent.stdout.readline()).startswith(b"PID "):
            assert line, "the parent exited before starting the server"
    server_pid = int(line.split()[1])
    assert _alive(server_pid)
    os.kill(parent.pid, signal.SIGKILL)
    await parent.wait()
    deadline = time.monotonic() + 15
    while _alive(server_pid):
        if time.monotonic() > deadline:
            os.kill(server_pid, signal.SIGKILL)  # don't leak it from the test either
            pytest.fail(f"valkey-server {server_pid} outlived its SIGKILLed parent")
        await asyncio.sleep(0.05)


def test_a_server_started_from_a_finished_event_loop_keeps_running(tmp_path: Path) -> None:
    """The death signal follows the forking thread: forking from an event loop's executor
    thread killed the server when that loop closed (a test's restart() did). Not any more."""
    from redis import Redis

    from bot.store.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "redis")
    asyncio.run(server.start())  # the loop and its executor threads are gone after this
    try:
        client = Redis.from_url(server.url, socket_connect_timeout=1)
        observed_until = time.monotonic() + 1.0  # a "stays up" claim needs a window to watch
        while time.monotonic() < observed_until:
            assert server.running and client.ping()
            time.sleep(0.05)
        client.close()
    finally:
        server.stop_sync()
