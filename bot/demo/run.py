"""The demo scenario: a deploy, three alert posts, a Slack retry, a webhook, a follow-up, and
`/wizard` questions, all sent over HTTP the way Slack and CI send them."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from pydantic import AnyHttpUrl, SecretStr
from slack_sdk.signature import SignatureVerifier

from bot.app import Runtime, build_runtime
from bot.checks import safe_url
from bot.demo.monitoring import start_demo_monitoring
from bot.devtools.slack import SlackSandbox
from bot.render.text import blocks_to_text
from bot.settings import Settings
from bot.store import keys

PAYLOADS = Path(__file__).parent / "payloads"
ALERT_CHANNEL = "C0ALERTS"
ASK_CHANNEL = "C0INFRA"


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _load(name: str) -> Any:
    """A bundled payload, with time placeholders filled relative to now."""
    now = datetime.now(UTC)
    text = (PAYLOADS / name).read_text()
    for minutes in (2, 15):
        stamp = (now - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
        text = text.replace(f"__NOW_MINUS_{minutes}M__", stamp)
    return json.loads(text)


class DemoClient:
    """Sends what Slack and CI would send, signed and authenticated like the real thing."""

    def __init__(self, session: aiohttp.ClientSession, base: str, secret: str, hook: str):
        self.session = session
        self.base = base
        self.verifier = SignatureVerifier(secret)
        self.hook_token = hook
        self.acks_ms: list[float] = []

    async def _signed(self, body: str, content_type: str) -> tuple[int, str]:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=ts, body=body) or "",
        }
        started = time.perf_counter()
        async with self.session.post(f"{self.base}/slack/events", data=body, headers=headers) as r:
            self.acks_ms.append((time.perf_counter() - started) * 1000)
            return r.status, await r.text()

    async def event(self, event: dict[str, Any], event_id: str, retry: int = 0) -> int:
        envelope = {
            "token": "legacy-unused",
            "team_id": "T0DEMO",
            "api_app_id": "A0WIZARD",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
        body = json.dumps(envelope)
        status, _ = await self._signed(body, "application/json")
        return status

    async def command(self, text: str, user: str, response_url: str) -> tuple[int, str]:
        body = urlencode(
            {
                "command": "/wizard",
                "text": text,
                "team_id": "T0DEMO",
                "channel_id": ASK_CHANNEL,
                "user_id": user,
                "user_name": user.lower(),
                "response_url": response_url,
                "trigger_id": f"trig-{secrets.token_hex(6)}",
            }
        )
        return await self._signed(body, "application/x-www-form-urlencoded")

    async def hook(self, path: str, payload: Any) -> tuple[int, str]:
        async with self.session.post(
            f"{self.base}{path}",
            json=payload,
            headers={"Authorization": f"Bearer {self.hook_token}"},
        ) as response:
            return response.status, await response.text()


async def _drain(runtime: Runtime, timeout: float) -> bool:
    """Wait until every queued job has been delivered and acked, and every incident summary
    card shows its latest state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        groups = await runtime.redis.xinfo_groups(keys.JOBS_STREAM)
        group = next((g for g in groups if g["name"] == keys.JOBS_GROUP), None)
        flusher = runtime.flusher
        summaries = await runtime.incidents.pending_summaries() if runtime.incidents else 0
        busy = summaries or (flusher is not None and flusher.in_flight)
        if group and group["pending"] == 0 and not group.get("lag") and not busy:
            return True
        await asyncio.sleep(0.1)
    return False


def _print_channel(sandbox: SlackSandbox, channel: str) -> None:
    for message in sandbox.messages(channel):
        if message.get("thread_ts") not in (None, message.get("ts")):
            continue
        who = message.get("username") or ("wizard" if message.get("bot_id") else "user")
        _say(f"┌─ #{channel} · {who} · ts {message['ts']}")
        root_text = blocks_to_text(message.get("blocks") or []) or message.get("text") or ""
        if not root_text and message.get("attachments"):
            root_text = str(message["attachments"][0].get("title", ""))
        for line in root_text.splitlines():
            _say(f"│ {line}")
        for reply in sandbox.replies(channel, message["ts"]):
            if reply.get("ts") == message["ts"]:
                continue
            who = "🧙 wizard" if reply.get("bot_id") else f"👤 {reply.get('user', 'someone')}"
            _say(f"│  └─ {who} (in thread)")
            text = blocks_to_text(reply.get("blocks") or []) or reply.get("text") or ""
            for line in text.splitlines():
                _say(f"│     {line}")
        _say("└" + "─" * 70)


async def run_demo(settings: Settings) -> int:
    data_dir = settings.data_dir / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    sandbox = SlackSandbox()
    await sandbox.start()
    signing_secret = secrets.token_hex(16)
    hook_token = secrets.token_urlsafe(24)
    monitoring = await start_demo_monitoring(settings)
    demo_settings = settings.model_copy(
        update={
            **monitoring.updates,
            "slack_api_url": AnyHttpUrl(sandbox.base_url),
            "slack_signing_secret": SecretStr(signing_secret),
            "slack_app_token": None,
            "alert_channels": frozenset({ALERT_CHANNEL}),
            "webhook_channel": ALERT_CHANNEL,
            "redis_url": None,
            "data_dir": data_dir,
            "hook_token": SecretStr(hook_token),
            "summary_interval_s": 0.3,  # show the summary cards' final state without waiting
        }
    )
    sandbox_token = "xoxb-demo-local-sandbox"  # noqa: S105 - the sandbox accepts any xoxb-
    try:
        runtime = await build_runtime(demo_settings, slack_token=sandbox_token)
    except BaseException:
        monitoring.stop()
        await sandbox.stop()
        raise
    port = await runtime.start_http(host="127.0.0.1", port=0)
    mode = (
        f"model {settings.wizard_model}"
        if settings.anthropic_api_key
        else "runbook fallback (no ANTHROPIC_API_KEY)"
    )
    _say("🧙 Infrastructure Wizard demo")
    redis_at = safe_url(runtime.embedded.url) if runtime.embedded else "?"  # no password shown
    _say(f"   embedded Redis {redis_at} (AOF on)")
    _say(f"   local Slack sandbox {sandbox.base_url}, bot HTTP on :{port}, answers by {mode}")
    _say(f"   evidence: {monitoring.note}")
    _say(f"   data (Redis AOF, audit copy) in {data_dir.resolve()}, replaced on every run")
    _say("")
    ok = True
    try:
        async with aiohttp.ClientSession() as session:
            client = DemoClient(session, f"http://127.0.0.1:{port}", signing_secret, hook_token)
            status, _ = await client.hook("/hooks/deploy", _load("01_deploy.json"))
            _say(f"→ CI deploy event: order-gateway 2026.11.27-1 → 2026.11.28-3  [{status}]")
            posted: list[dict[str, Any]] = []
            for name, label in (
                ("02_alertmanager_slack.json", "Alertmanager post: OrderGatewayLatencyHigh"),
                ("03_grafana_slack.json", "Grafana post: MarketDataFeedGap"),
                ("04_datadog_slack.json", "Datadog post: Kafka consumer lag"),
            ):
                message = sandbox.inject_message(ALERT_CHANNEL, _load(name))
                posted.append(message)
                status = await client.event(message, event_id=f"Ev{secrets.token_hex(5)}")
                _say(f"→ {label}  [signed event acked {status} in {client.acks_ms[-1]:.1f} ms]")
            first = posted[0]
            status = await client.event(first, event_id="EvRETRY-" + first["ts"])
            _say(f"→ Slack retry of the first alert (new event id, same message)  [{status}]")
            status, body = await client.hook(
                "/hooks/alertmanager", _load("05_alertmanager_webhook.json")
            )
            _say(f"→ Alertmanager webhook: PTPClockOffsetHigh  [{status} {body}]")
            await _drain(runtime, timeout=settings.llm_deadline_s * 4 + 10)
            question = sandbox.inject_message(
                ALERT_CHANNEL,
                {
                    "type": "message",
                    "user": "U0ONCALL",
                    "text": "<@U0WIZARD> we rolled out 2026.11.28-3 this morning — roll back now "
                    "or wait for the open?",
                    "thread_ts": first["ts"],
                },
            )
            status = await client.event(question, event_id=f"Ev{secrets.token_hex(5)}")
            _say(f"→ Follow-up in the order-gateway thread  [{status}]")
            status, ack = await client.command(
                "how do we deploy our new algo to production with zero downtime?",
                "U0QUANT",
                sandbox.response_url("demo-cmd"),
            )
            _say(f"→ /wizard question  [{status}: {json.loads(ack).get('text', '')[:60]}…]")
            status, ack = await client.command("status", "U0ONCALL", sandbox.response_url("st"))
            _say(f"→ /wizard status  [{status}]")
            ok = await _drain(runtime, timeout=settings.llm_deadline_s * 4 + 10)
            _say("")
            _say("What Slack shows:")
            _say("")
            _print_channel(sandbox, ALERT_CHANNEL)
            _print_channel(sandbox, ASK_CHANNEL)
            _say("/wizard status (ephemeral):")
            for line in blocks_to_text(json.loads(ack).get("blocks") or []).splitlines():
                _say(f"   {line}")
            records = await runtime.audit.records()
            checked, broken = await runtime.audit.verify()
            acks = sorted(client.acks_ms)
            _say("")
            _say(
                f"Audit: {len(records)} records, hash chain verified over {checked}"
                + (" ✅" if broken is None else f" ❌ broken at {broken}")
            )
            _say(
                f"Signed Slack requests acked: {len(acks)}, median {acks[len(acks) // 2]:.1f} ms, "
                f"max {acks[-1]:.1f} ms; duplicate deliveries answered once."
            )
            if not ok:
                _say("⚠️  some jobs were still pending when the demo stopped waiting")
    finally:
        await runtime.stop()
        await sandbox.stop()
        monitoring.stop()
    return 0 if ok else 1
