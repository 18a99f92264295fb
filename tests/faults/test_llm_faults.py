"""Scenario 3: the model API fails in every way it can; every alert still gets an answer in time.

For each fault — 429, 529, 500, no answer at all, a connection cut after the headers, a connection
cut part-way through the body — a real `wizard serve` process must post the runbook fallback within
WIZARD_LLM_DEADLINE_S (+1 s for Slack and Redis), and once the fake model recovers the very next
alert must get the model's answer again (nothing stuck open, no circuit left tripped). The anthropic
SDK retries 429/5xx/connection errors itself (max_retries=2); those retries must fit inside the
deadline, which `Wizard._ask` enforces with one `asyncio.timeout` around all of them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import redis.asyncio as redis

from bot.audit.log import AuditLog
from bot.devtools.slack import SlackSandbox
from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.faults.procs import (
    ALERT_CHANNEL,
    BotProcess,
    SlackEvents,
    alert_message,
    bot_env,
    bot_replies,
    finals,
    is_final,
    running_bots,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="module")]

DEADLINE_S = 3.0
RETRY_AFTER_S = 8


class World:
    """One bot process and the fakes around it, shared by this module's tests."""

    def __init__(
        self,
        sandbox: SlackSandbox,
        llm: FakeAnthropic,
        client: redis.Redis,
        bot: BotProcess,
        session: aiohttp.ClientSession,
    ) -> None:
        self.sandbox = sandbox
        self.llm = llm
        self.redis = client
        self.bot = bot
        self.slack = SlackEvents(session)
        self._n = 0

    async def alert(self) -> tuple[str, float]:
        """Post one new alert; returns its ts and the seconds until its final answer landed."""
        self._n += 1
        message = self.sandbox.inject_message(ALERT_CHANNEL, alert_message(100 + self._n))
        ts = message["ts"]
        started = time.monotonic()
        assert await self.slack.deliver(self.bot, message, f"EvLlm{self._n:05d}") == 200
        await wait_until(
            lambda: any(is_final(m) for m in bot_replies(self.sandbox, ALERT_CHANNEL, ts)),
            DEADLINE_S + 15,
            lambda: f"no answer for alert {self._n}\n{self.bot}",
        )
        return ts, time.monotonic() - started

    async def audit_for(self, ts: str) -> dict[str, Any]:
        job_id = f"msg:{ALERT_CHANNEL}:{ts}"
        async with asyncio.timeout(5):
            while True:
                found = [
                    r
                    for r in await AuditLog(self.redis).records()
                    if r.get("source_job") == job_id and r["kind"] == "triage"
                ]
                if found:
                    assert len(found) == 1, found
                    return found[0]
                await asyncio.sleep(0.05)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    root = tmp_path_factory.mktemp("llm-faults")
    server = EmbeddedRedis(root / "redis")
    await server.start()
    client = connect(server.url)
    try:
        async with (
            SlackSandbox() as sandbox,
            FakeAnthropic() as llm,
            aiohttp.ClientSession() as session,
            running_bots(root / "logs") as fleet,
        ):
            env = bot_env(
                sandbox=sandbox,
                redis_url=server.url,
                data_dir=root / "data",
                llm_url=llm.base_url,
                deadline_s=DEADLINE_S,
            )
            bot = await fleet.spawn("bot", env)
            yield World(sandbox, llm, client, bot, session)
    finally:
        await client.aclose()
        await server.stop()


FAULTS: dict[str, Callable[[FakeAnthropic], None]] = {
    "http_429": lambda llm: llm.fail(429),
    # the SDK would sleep 8 s before its retry: the deadline must cut that short
    "http_429_retry_after_8s": lambda llm: llm.fail(429, retry_after=RETRY_AFTER_S),
    "http_529": lambda llm: llm.fail(529),
    "http_500": lambda llm: llm.fail(500),
    "timeout": lambda llm: llm.hang(),
    "cut_after_headers": lambda llm: llm.drop("headers"),
    "cut_mid_body": lambda llm: llm.drop("body"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_model_fault_gets_runbook_fallback_in_time_then_model_again(
    world: World, fault: str, record: Callable[..., None]
) -> None:
    world.llm.reset()
    FAULTS[fault](world.llm)
    calls_before = world.llm.calls
    try:
        ts, fallback_s = await world.alert()
    finally:
        world.llm.reset()
    attempts = world.llm.calls - calls_before
    answer = finals(world.sandbox, ALERT_CHANNEL, ts)
    assert len(answer) == 1
    assert "Runbook fallback" in json.dumps(answer[0]["blocks"]), answer[0]
    audit = await world.audit_for(ts)
    assert audit["fallback"] is True and audit["fallback_reason"], audit
    assert fallback_s <= DEADLINE_S + 1.0, f"fallback after {fallback_s:.2f}s\n{world.bot}"
    assert attempts >= 1
    paused = None
    if fault.startswith("http_429_retry_after"):
        # The API said "not before 8 s": the model gate holds every new call that long. An
        # alert inside the window gets the runbook answer at once, saying why, and no call.
        window_ends = time.monotonic() - fallback_s + RETRY_AFTER_S
        calls = world.llm.calls
        ts, paused_s = await world.alert()
        answer = finals(world.sandbox, ALERT_CHANNEL, ts)
        assert len(answer) == 1 and "rate limit" in json.dumps(answer[0]["blocks"]), answer[0]
        assert paused_s <= 1.0 + 1.0 and world.llm.calls == calls, f"{paused_s}\n{world.bot}"
        paused = round(paused_s, 2)
        await wait_until(lambda: time.monotonic() > window_ends + 0.2, RETRY_AFTER_S + 1)

    # the fake recovers: the next alert is answered by the model, not the runbook
    ts, model_s = await world.alert()
    answer = finals(world.sandbox, ALERT_CHANNEL, ts)
    assert len(answer) == 1
    assert "fake model answer" in json.dumps(answer[0]["blocks"]), answer[0]
    assert (await world.audit_for(ts))["fallback"] is False
    record(
        fallback_s=round(fallback_s, 2),
        sdk_attempts=attempts,
        reason=audit["fallback_reason"],
        recovered_answer_s=round(model_s, 2),
        **({"fallback_in_rate_limit_window_s": paused} if paused is not None else {}),
    )
