"""`wizard serve` as an operator runs it: a real process, env settings, SIGTERM to stop.

The default process is two: the stage workers in `wizard serve`, intake in its child
(bot/pipeline/intake_process.py). One scrape of /metrics holds both processes' counters; a
SIGKILL of the parent takes the child with it; a dead child stops the parent, non-zero."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.signing import event_body, signed_headers

PAYLOADS = Path(__file__).resolve().parents[1] / "bot" / "demo" / "payloads"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_process_answers_and_stops_cleanly(
    redis_server: EmbeddedRedis, redis_client, tmp_path: Path
) -> None:
    async with SlackSandbox() as sandbox:
        proc, port = await _serving(sandbox, redis_server, tmp_path, logs=True)
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    assert (await r.json()) == {"redis": True, "workers": True}
                message = sandbox.inject_message(
                    "C0ALERTS", json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
                )
                body = event_body(message, event_id="EvServe1")
                async with session.post(
                    f"http://127.0.0.1:{port}/slack/events",
                    data=body.encode(),
                    headers={
                        **signed_headers("serve-secret", body),
                        "Content-Type": "application/json",
                    },
                ) as r:
                    assert r.status == 200
                async with session.post(f"http://127.0.0.1:{port}/hooks/deploy", json={}) as r:
                    assert r.status == 503  # hooks refuse to work without WIZARD_HOOK_TOKEN
                await sandbox.wait_for(
                    lambda: len(sandbox.replies("C0ALERTS", message["ts"]))
                    == 4  # root, summary, answer (first screen and full plan)
                    and "Immediate actions"
                    in json.dumps(sandbox.replies("C0ALERTS", message["ts"])),
                    timeout=20,
                )
                async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                    scraped = await r.text()
            # the intake child counted the event, the parent's workers posted the replies
            assert 'wizard_events_total{kind="alert",outcome="queued"} 1.0' in scraped
            assert 'wizard_replies_total{action="posted"} 3.0' in scraped
            assert scraped.count("# TYPE wizard_replies_total counter") <= 1
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        logs = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
        events = {entry.get("event") for entry in logs}
        assert {"wizard_serving", "job_done", "runtime_stopped"} <= events
        assert "xoxb-serve-test" not in stderr.decode()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _intake_child(pid: int) -> int:
    """The intake process among serve's children (multiprocessing's resource tracker is the
    other one; it exits when its pipe from the parent closes)."""
    (child,) = [
        c
        for c in _children(pid)
        if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()
    ]
    return child


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return True
    return state == "Z"  # a zombie: dead, waiting for its (new) parent to reap it


async def _serving(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, *, logs: bool = False
) -> tuple[Any, int]:
    """`wizard serve` as an operator starts it, once /healthz answers 200; `logs` keeps its
    stdout/stderr readable (`proc.communicate()`)."""
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WIZARD_"))}
    env.pop("ANTHROPIC_API_KEY", None)
    env.update(
        SLACK_BOT_TOKEN="xoxb-serve-test",
        SLACK_SIGNING_SECRET="serve-secret",
        SLACK_API_URL=sandbox.base_url,
        REDIS_URL=redis_server.url,
        WIZARD_ALERT_CHANNELS="C0ALERTS",
        WIZARD_DATA_DIR=str(tmp_path),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE if logs else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE if logs else asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    async with aiohttp.ClientSession() as session, asyncio.timeout(30):
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc, port
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def _until(check: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_sigkill_of_serve_takes_its_intake_child_with_it(
    redis_server: EmbeddedRedis, redis_client, tmp_path: Path
) -> None:
    async with SlackSandbox() as sandbox:
        proc, _ = await _serving(sandbox, redis_server, tmp_path)
        intake = _intake_child(proc.pid)  # Redis is the test's own: no embedded server here
        children = _children(proc.pid)
        proc.kill()
        await proc.wait()
        await _until(lambda: all(_gone(c) for c in children), 10)
        assert intake in children


async def test_serve_stops_non_zero_when_its_intake_child_dies(
    redis_server: EmbeddedRedis, redis_client, tmp_path: Path
) -> None:
    async with SlackSandbox() as sandbox:
        proc, _ = await _serving(sandbox, redis_server, tmp_path)
        try:
            os.kill(_intake_child(proc.pid), signal.SIGKILL)
            assert await asyncio.wait_for(proc.wait(), 30) == 1  # nobody acks: not "running"
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
