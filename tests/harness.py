"""An end-to-end harness: the real bot wired to a real Redis, a local Slack sandbox and a local
fake Anthropic API, driven by signed HTTP requests exactly as Slack would send them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import AnyHttpUrl, SecretStr

from bot.app import Runtime, build_runtime
from bot.devtools.slack import SlackSandbox
from bot.pipeline.worker import queue_idle
from bot.settings import Settings
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.signing import block_actions_body, event_body, signed_headers, slash_body

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
HOOK_TOKEN = "hook-token-for-tests-0123456789"
ALERT_CHANNEL = "C0ALERTS"
ASK_CHANNEL = "C0INFRA"


def settings_for(
    *,
    sandbox: SlackSandbox,
    redis_url: str,
    data_dir: Path,
    llm: FakeAnthropic | None,
    deadline_s: float = 3.0,
    **extra: Any,
) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": SecretStr("xoxb-test-bot-token"),
        "SLACK_SIGNING_SECRET": SecretStr(SIGNING_SECRET),
        "SLACK_API_URL": AnyHttpUrl(sandbox.base_url),
        "WIZARD_ALERT_CHANNELS": ALERT_CHANNEL,
        "REDIS_URL": redis_url,
        "WIZARD_DATA_DIR": data_dir,
        "WIZARD_HOOK_TOKEN": SecretStr(HOOK_TOKEN),
        "WIZARD_LLM_DEADLINE_S": deadline_s,
        "WIZARD_WORKERS": 2,
        "WIZARD_SUMMARY_INTERVAL_S": 0.2,
        "WIZARD_SUMMARY_UPDATES_PER_MIN": 600,
    }
    if llm is not None:
        values["ANTHROPIC_API_KEY"] = SecretStr("sk-ant-test-key-not-real")
        values["ANTHROPIC_BASE_URL"] = AnyHttpUrl(llm.base_url)
    values.update(extra)
    return Settings(**values)


class Bot:
    """A running bot plus the clients a test needs to talk to it."""

    def __init__(self, runtime: Runtime, sandbox: SlackSandbox, session: aiohttp.ClientSession):
        self.runtime = runtime
        self.sandbox = sandbox
        self.session = session
        self.base = f"http://127.0.0.1:{runtime.port}"
        self._n = 0

    async def post_signed(
        self,
        body: str,
        content_type: str = "application/json",
        *,
        extra_headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
    ) -> tuple[int, str]:
        headers = signed_headers(secret, body, timestamp=timestamp)
        headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        async with self.session.post(
            f"{self.base}/slack/events", data=body.encode(), headers=headers
        ) as response:
            return response.status, await response.text()

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None
    ) -> int:
        self._n += 1
        body = event_body(event, event_id=event_id or f"Ev{self._n:08d}")
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        status, _ = await self.post_signed(body, extra_headers=extra if retry else None)
        return status

    async def post_alert(self, message: dict[str, Any], channel: str = ALERT_CHANNEL) -> str:
        """An integration posts `message` in `channel`; Slack sends us the event. Returns ts."""
        posted = self.sandbox.inject_message(channel, message)
        status = await self.event(posted)
        assert status == 200
        return str(posted["ts"])

    async def command(self, text: str, user: str = "U0ONCALL") -> dict[str, Any]:
        self._n += 1
        body = slash_body(
            text,
            user_id=user,
            channel_id=ASK_CHANNEL,
            response_url=self.sandbox.response_url(f"cmd{self._n}"),
        )
        status, reply = await self.post_signed(body, "application/x-www-form-urlencoded")
        assert status == 200, reply
        return json.loads(reply) if reply else {}

    async def click(
        self, action_id: str, incident_id: str, *, user: str = "U0ONCALL", message_ts: str = "1.1"
    ) -> tuple[int, str]:
        """A signed button click on an incident summary; returns status and the rid of its
        response_url (read `sandbox.responses[rid]`)."""
        self._n += 1
        rid = f"click{self._n}"
        body = block_actions_body(
            action_id=action_id,
            value=incident_id,
            user_id=user,
            channel_id=ALERT_CHANNEL,
            message_ts=message_ts,
            response_url=self.sandbox.response_url(rid),
        )
        status, _ = await self.post_signed(body, "application/x-www-form-urlencoded")
        return status, rid

    async def hook(self, path: str, payload: Any, token: str | None = HOOK_TOKEN) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.post(f"{self.base}{path}", json=payload, headers=headers) as r:
            return r.status

    async def drain(self, timeout: float = 15.0) -> None:
        """Wait until every queued job was delivered and acked."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await queue_idle(self.runtime.redis):  # both stages: fast jobs and analyses
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("jobs still pending")

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The bot's replies in a thread (parent excluded)."""
        return [m for m in self.sandbox.replies(channel, ts) if m["ts"] != ts]

    def slot_messages(self, channel: str, ts: str, prefix: str) -> list[dict[str, Any]]:
        """The bot's messages in a thread whose metadata slot starts with `prefix`."""
        return [
            m
            for m in self.thread(channel, ts)
            if str(
                ((m.get("metadata") or {}).get("event_payload") or {}).get("slot", "")
            ).startswith(prefix)
        ]

    def answer(self, channel: str, ts: str) -> dict[str, Any]:
        """The wizard's analysis in an incident thread (exactly one)."""
        found = self.slot_messages(channel, ts, "analysis:")
        assert len(found) == 1, [blocks_text(m)[:200] for m in self.thread(channel, ts)]
        return found[0]

    def plan(self, channel: str, ts: str) -> dict[str, Any]:
        """The full plan that follows the analysis's first screen (exactly one)."""
        found = self.slot_messages(channel, ts, "plan:analysis:")
        assert len(found) == 1, [blocks_text(m)[:200] for m in self.thread(channel, ts)]
        return found[0]

    def answer_text(self, channel: str, ts: str) -> str:
        """The whole analysis as text: its first screen, then its full plan."""
        return blocks_text(self.answer(channel, ts)) + "\n" + blocks_text(self.plan(channel, ts))

    def summary(self, channel: str, ts: str) -> dict[str, Any]:
        """The incident summary card in a thread (exactly one)."""
        found = self.slot_messages(channel, ts, "summary:") or self.slot_messages(
            channel, ts, "root:"
        )
        assert len(found) == 1, [blocks_text(m)[:200] for m in self.thread(channel, ts)]
        return found[0]

    async def settle(self, timeout: float = 15.0) -> None:
        """Drain the jobs, then the coalesced summary updates."""
        await self.drain(timeout)
        deadline = time.monotonic() + timeout
        assert self.runtime.incidents is not None
        flusher = self.runtime.flusher
        while await self.runtime.incidents.pending_summaries() or (flusher and flusher.in_flight):
            if time.monotonic() > deadline:
                raise TimeoutError("summaries still pending")
            await asyncio.sleep(0.05)

    def calls(self, method: str, where: Callable[[dict[str, Any]], bool] | None = None) -> list:
        return [
            c
            for c in self.sandbox.calls
            if c.method == method and (where is None or where(c.params))
        ]


async def start_bot(settings: Settings, sandbox: SlackSandbox, **runtime_kw: Any) -> Bot:
    runtime = await build_runtime(settings, **runtime_kw)
    await runtime.start_http("127.0.0.1", 0)
    return Bot(runtime, sandbox, aiohttp.ClientSession())


async def stop_bot(bot: Bot) -> None:
    await bot.session.close()
    await bot.runtime.stop()


def blocks_text(message: dict[str, Any]) -> str:
    """All text in a message's blocks, for assertions."""
    out: list[str] = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        value = block.get("text")
        if isinstance(value, dict):
            out.append(value.get("text", ""))
        elif isinstance(value, str):  # a markdown block (a streamed answer)
            out.append(value)
        for element in block.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                out.append(element["text"])
        for field in block.get("fields") or []:
            out.append(field.get("text", ""))
    return "\n".join(out)
