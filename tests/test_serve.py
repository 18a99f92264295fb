"""`wizard serve` as an operator runs it: a real process, env settings, SIGTERM to stop."""

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
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with aiohttp.ClientSession() as session:
                async with asyncio.timeout(30):
                    while True:
                        try:
                            async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                                if r.status == 200:
                                    assert (await r.json()) == {"redis": True, "workers": True}
                                    break
                        except aiohttp.ClientConnectionError:
                            pass
                        await asyncio.sleep(0.1)
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
                and "Immediate actions" in json.dumps(sandbox.replies("C0ALERTS", message["ts"])),
                timeout=20,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        logs = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
        events = {entry.get("event") for entry in logs}
        assert {"wizard_serving", "job_done", "runtime_stopped"} <= events
        assert "xoxb-serve-test" not in stderr.decode()
