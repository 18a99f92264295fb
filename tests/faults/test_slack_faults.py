"""Scenario 4: Slack's Web API rate-limits, errors and resets connections; no reply is lost.

A real `wizard serve` process posts through the real slack-sdk client `bot/slack/client.py` builds.
The sandbox fails the next call(s) of a method: 429 with Retry-After (the SDK must wait at least
that long, then retry), 500/503 (retried with backoff), a reset TCP connection (retried), and
failures beyond the SDK's retry budget (the job fails, stays pending, and a worker reclaims and
finishes it). Every time: exactly one reply in the thread, and it is the final answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio

from bot.devtools.slack import RecordedCall, SlackSandbox
from bot.store import keys
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

RECLAIM_IDLE_S = 2.0


@dataclass
class World:
    sandbox: SlackSandbox
    bot: BotProcess
    slack: SlackEvents
    redis_url: str


async def _quiet(world: World, timeout: float = 20) -> None:
    """No summary refresh due (the dirty set is empty) and no Web API call for two summary
    intervals (0.2 s each in these bots): a condition with a deadline, not a fixed pause."""
    client = connect(world.redis_url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                calls = len(world.sandbox.calls)
                if await client.zcard(keys.INCIDENTS_DIRTY) == 0:
                    await asyncio.sleep(0.4)
                    if len(world.sandbox.calls) == calls:
                        return
                else:
                    await asyncio.sleep(0.05)
    finally:
        await client.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    root = tmp_path_factory.mktemp("slack-faults")
    server = EmbeddedRedis(root / "redis")
    await server.start()
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
                reclaim_idle_s=RECLAIM_IDLE_S,
            )
            bot = await fleet.spawn("bot", env)
            yield World(sandbox, bot, SlackEvents(session), server.url)
    finally:
        await server.stop()


@dataclass(frozen=True)
class Fault:
    method: str
    status: int | None  # None: reset the connection instead of answering
    times: int = 1
    retry_after: int | None = None

    def inject(self, sandbox: SlackSandbox) -> None:
        if self.status is None:
            sandbox.drop_next(self.method, times=self.times)
        else:
            sandbox.fail_next(
                self.method, status=self.status, retry_after=self.retry_after, times=self.times
            )


FAULTS = {
    "post_429_retry_after_2": Fault("chat.postMessage", 429, retry_after=2),
    "update_429_retry_after_1": Fault("chat.update", 429, retry_after=1),
    "post_500_twice": Fault("chat.postMessage", 500, times=2),
    "update_503": Fault("chat.update", 503),
    "post_connection_reset_twice": Fault("chat.postMessage", None, times=2),
    "post_500_beyond_sdk_retries": Fault("chat.postMessage", 500, times=5),
}


def _thread_calls(sandbox: SlackSandbox, method: str, ts: str) -> list[RecordedCall]:
    """Calls of `method` that concern the thread under `ts` (posts into it, edits of replies
    in it), including the ones the sandbox failed."""
    replies = {m["ts"] for m in bot_replies(sandbox, ALERT_CHANNEL, ts)}
    return [
        c
        for c in sandbox.calls
        if c.method == method
        and (c.params.get("thread_ts") == ts or (c.params.get("ts") in replies))
    ]


@pytest.mark.parametrize("name", list(FAULTS))
async def test_slack_fault_is_retried_and_the_reply_lands_once(
    world: World, name: str, record: Callable[..., None]
) -> None:
    fault = FAULTS[name]
    sandbox = world.sandbox
    sandbox.reset_failures()
    failed_before = len(world.bot.events("job_failed"))
    # Earlier cases' summary cards may still be refreshed (coalesced, a moment later): wait until
    # none is due and Slack has gone quiet, so the injected fault hits this case's calls.
    await _quiet(world)
    fault.inject(sandbox)
    message = sandbox.inject_message(ALERT_CHANNEL, alert_message(200 + len(sandbox.calls)))
    ts = message["ts"]
    started = time.monotonic()
    assert await world.slack.deliver(world.bot, message, f"EvSlack{len(sandbox.calls):06d}") == 200
    await wait_until(
        lambda: any(is_final(m) for m in bot_replies(sandbox, ALERT_CHANNEL, ts)),
        RECLAIM_IDLE_S + 25,
        lambda: f"no final answer after {name}\n{world.bot}",
    )
    answered_s = time.monotonic() - started
    if fault.method == "chat.update":  # the summary card is refreshed after the analysis
        await wait_until(
            lambda: len(_thread_calls(sandbox, fault.method, ts)) >= fault.times + 1,
            RECLAIM_IDLE_S + 25,
            lambda: f"the summary was never updated after {name}\n{world.bot}",
        )

    replies = bot_replies(sandbox, ALERT_CHANNEL, ts)
    assert len(replies) == 3, f"{len(replies)} replies\n{world.bot}"  # summary, analysis, plan
    assert len(finals(sandbox, ALERT_CHANNEL, ts)) == 1
    calls = _thread_calls(sandbox, fault.method, ts)
    assert len(calls) >= fault.times + 1, calls  # each failure was followed by a retry
    if fault.method == "chat.postMessage":
        # only the last attempt reached the handler: one summary card however many tries,
        # then the analysis (its first screen and its full plan)
        assert len(calls) == fault.times + 3, calls
    figures: dict[str, object] = {"answered_s": round(answered_s, 2), "calls": len(calls)}
    if fault.retry_after is not None:
        waited = calls[1].at - calls[0].at
        assert waited >= fault.retry_after, f"retried after {waited:.2f}s < Retry-After"
        figures["waited_s"] = round(waited, 2)
    failed = len(world.bot.events("job_failed")) - failed_before
    if fault.times > 3:  # past the SDK's budget: the worker's reclaim finished the job
        assert failed >= 1 and world.bot.events("jobs_reclaimed"), str(world.bot)
    else:  # within it: the SDK's own retry handled it, the job never failed
        assert failed == 0, f"the SDK did not retry {name} itself\n{world.bot}"
    record(**figures)
