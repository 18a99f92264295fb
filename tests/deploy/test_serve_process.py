"""`wizard serve` as the container runs it: Socket Mode still serves the health port, and SIGTERM
drains — intake closes at once, the job in hand finishes (model answer, not a cancellation), exit 0.

A real process, the real Slack SDK's Socket Mode client against the local sandbox, the real
Anthropic SDK against the fake Messages API, a real Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from bot.devtools.slack import SlackSandbox
from bot.store import keys
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.signing import event_body

PAYLOADS = Path(__file__).resolve().parents[2] / "bot" / "demo" / "payloads"
MODEL_DELAY_S = 7.0
"""Longer than the old fixed 5 s shutdown grace, shorter than the drain (deadline 20 s + 15 s)."""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(sandbox: SlackSandbox, llm: FakeAnthropic, redis_url: str, data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WIZARD_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-socket-serve-test",
        SLACK_APP_TOKEN="xapp-1-A0WIZ-1-socket-serve-test",  # Socket Mode; no signing secret
        SLACK_API_URL=sandbox.base_url,
        ANTHROPIC_API_KEY="sk-ant-test-key-not-real",
        ANTHROPIC_BASE_URL=llm.base_url,
        REDIS_URL=redis_url,
        WIZARD_ALERT_CHANNELS="C0ALERTS",
        WIZARD_DATA_DIR=str(data_dir),
        WIZARD_LLM_DEADLINE_S="20",
        WIZARD_WORKERS="1",
    )
    return env


async def _wait_healthy(session: aiohttp.ClientSession, base: str) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with session.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def _port_closed(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_socket_mode_serves_health_and_sigterm_drains_the_job_in_hand(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client,
    tmp_path: Path,
) -> None:
    port = _port()
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        env=_env(sandbox, llm, redis_server.url, tmp_path), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            await _wait_healthy(session, base)
            async with session.get(f"{base}/readyz") as r:
                assert r.status == 200
                assert await r.json() == {"workers": True, "redis": True, "queue_moving": True}
            async with session.get(f"{base}/metrics") as r:
                assert r.status == 200
                assert "wizard_queue_pending" in await r.text()
            # Socket Mode has no signing secret, yet /slack/events is on this port: an unsigned
            # (forged) event must be refused, not triaged.
            forged = sandbox.inject_message(
                "C0ALERTS", json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
            )
            async with session.post(
                f"{base}/slack/events",
                data=event_body(forged, event_id="EvForged1").encode(),
                headers={"Content-Type": "application/json"},
            ) as r:
                assert r.status == 401

        await sandbox.wait_for_connection(timeout=20)
        llm.delay(MODEL_DELAY_S)
        message = sandbox.inject_message(
            "C0ALERTS", json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
        )
        envelope = await sandbox.send_envelope(
            {"type": "event_callback", "event_id": "EvSockServe1", "team_id": "T0WIZ",
             "event": message}
        )  # fmt: skip
        await sandbox.wait_for_ack(envelope, timeout=10)
        await sandbox.wait_for(lambda: llm.calls >= 1, timeout=20)  # the model call is in flight

        proc.send_signal(signal.SIGTERM)
        # Intake closes at once, while the job is still waiting on the model.
        async with asyncio.timeout(5):
            while not await _port_closed(port):
                await asyncio.sleep(0.05)
        assert proc.returncode is None, "serve exited before the job in hand finished"
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    err = stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    events = [entry.get("event") for entry in logs]
    assert {"wizard_serving", "socket_mode_connected", "wizard_draining"} <= set(events)
    # the analysis in hand finished after the drain began, and before the runtime stopped
    analysis_done = next(
        i
        for i, entry in enumerate(logs)
        if entry.get("event") == "job_done" and entry.get("stage") == "analysis"
    )
    # (two runtimes stop: the intake loop's first, then the workers' after the drain)
    workers_stopped = len(events) - 1 - events[::-1].index("runtime_stopped")
    assert events.index("wizard_draining") < analysis_done < workers_stopped
    draining = next(entry for entry in logs if entry.get("event") == "wizard_draining")
    assert draining["drain_s"] == 35.0  # WIZARD_LLM_DEADLINE_S + 15 by default
    replies = [m for m in sandbox.replies("C0ALERTS", message["ts"]) if m["ts"] != message["ts"]]
    assert len(replies) == 3  # the incident summary card and the analysis (+ its full plan)
    text = json.dumps(replies)
    assert "Immediate actions" in text and "fallback" not in text.lower()  # the model's answer
    assert llm.calls == 1
    # acked: nothing left pending for another replica to re-run, and the forged event never queued
    groups = await redis_client.xinfo_groups(keys.JOBS_STREAM)
    group = next(g for g in groups if g["name"] == keys.JOBS_GROUP)
    assert group["pending"] == 0
    assert await redis_client.xlen(keys.JOBS_STREAM) == 1
    assert "xoxb-socket-serve-test" not in err and "xapp-1-A0WIZ" not in err
