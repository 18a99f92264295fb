"""Scenario 1: a bot process is SIGKILLed mid-job; another process finishes the job, once.

The job is in flight (placeholder posted, the model call outstanding) when the process dies with
no chance to clean up. A freshly started process must reclaim the pending job from the consumer
group (XAUTOCLAIM after WIZARD_RECLAIM_IDLE_S), edit the placeholder into the answer instead of
posting a second message, and write exactly one audit record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as redis

from bot.audit import anchor
from bot.audit.commands import verify_report
from bot.audit.log import AuditLog
from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.faults.procs import (
    ALERT_CHANNEL,
    SlackEvents,
    alert_message,
    bot_env,
    bot_replies,
    is_final,
    queue_idle,
    running_bots,
    wait_until,
)

pytestmark = pytest.mark.faults

RECLAIM_IDLE_S = 2.0


async def test_sigkill_mid_job_is_finished_exactly_once_by_the_next_process(
    tmp_path: Path,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    own_redis: EmbeddedRedis,
    own_client: redis.Redis,
    record: Callable[..., None],
) -> None:
    llm.delay(30)  # the first process's model call is still outstanding when it dies
    env = bot_env(
        sandbox=sandbox,
        redis_url=own_redis.url,
        data_dir=tmp_path / "data",
        llm_url=llm.base_url,
        deadline_s=25,
        reclaim_idle_s=RECLAIM_IDLE_S,
    )
    async with running_bots(tmp_path / "logs") as fleet, aiohttp.ClientSession() as session:
        first = await fleet.spawn("first", env)
        message = sandbox.inject_message(ALERT_CHANNEL, alert_message(1))
        ts = message["ts"]
        assert await SlackEvents(session).deliver(first, message, "EvKill0001") == 200

        await wait_until(
            lambda: len(bot_replies(sandbox, ALERT_CHANNEL, ts)) == 1 and llm.calls == 1,
            15,
            lambda: f"no placeholder and model call\n{fleet}",
        )
        placeholder = bot_replies(sandbox, ALERT_CHANNEL, ts)[0]
        assert not is_final(placeholder)
        first.kill()
        killed = time.monotonic()
        assert first.done("analysis") == []

        llm.reset()  # the model is fine again for whoever picks the job up
        second = await fleet.spawn("second", env)
        await wait_until(
            lambda: any(is_final(m) for m in bot_replies(sandbox, ALERT_CHANNEL, ts)),
            RECLAIM_IDLE_S + 20,
            lambda: f"the job was never finished\n{fleet}",
        )
        recovered_s = time.monotonic() - killed
        async with asyncio.timeout(10):
            while not await queue_idle(own_client):
                await asyncio.sleep(0.05)

        replies = bot_replies(sandbox, ALERT_CHANNEL, ts)
        # the summary card posted before the crash is reused (edited), the analysis posted once
        assert len(replies) == 3 and replies[0]["ts"] == placeholder["ts"], "summary re-posted"
        assert not is_final(replies[0]) and is_final(replies[2])  # first screen, then the plan
        posts = [
            c
            for c in sandbox.calls
            if c.method == "chat.postMessage" and c.params.get("thread_ts") == ts
        ]
        assert len(posts) == 3, f"{len(posts)} posts in the thread\n{fleet}"
        assert second.events("jobs_reclaimed"), str(second)
        assert len(second.done("analysis")) == 1  # the analysis, taken over and finished once
        assert len(first.done("fast") + second.done("fast")) == 1

        job_id = f"msg:{ALERT_CHANNEL}:{ts}"
        records = [r for r in await AuditLog(own_client).records() if r.get("source_job") == job_id]
        assert [r["kind"] for r in records] == ["triage"]
        assert records[0]["fallback"] is False  # the second process got the model's answer
        data_dir = Path(env["WIZARD_DATA_DIR"])
        report = await verify_report(
            own_client,
            data_dir / "audit",
            "both",
            key=anchor.key_for(env.get("WIZARD_AUDIT_KEY"), data_dir),  # the bot's own key
            checkpoints=anchor.checkpoints_path(data_dir),
        )
        assert report["ok"], report
        record(recovered_after_kill_s=round(recovered_s, 2), reclaim_idle_s=RECLAIM_IDLE_S)


async def test_sigkill_while_posting_is_recovered_from_the_thread_not_posted_twice(
    tmp_path: Path,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    own_redis: EmbeddedRedis,
    own_client: redis.Redis,
    record: Callable[..., None],
) -> None:
    """The process dies after sending chat.postMessage but before it learns the message's ts: the
    ledger says "posting", Slack has the message. The next process must find it by its metadata
    (conversations.replies) and edit it, not post a second one."""
    sandbox.delay("chat.postMessage", 2.0)  # Slack is slow to answer; the bot dies waiting
    env = bot_env(
        sandbox=sandbox,
        redis_url=own_redis.url,
        data_dir=tmp_path / "data",
        llm_url=llm.base_url,
        reclaim_idle_s=RECLAIM_IDLE_S,
    )
    async with running_bots(tmp_path / "logs") as fleet, aiohttp.ClientSession() as session:
        first = await fleet.spawn("first", env)
        message = sandbox.inject_message(ALERT_CHANNEL, alert_message(2))
        ts = message["ts"]
        assert await SlackEvents(session).deliver(first, message, "EvKill0002") == 200
        await wait_until(
            lambda: any(
                c.method == "chat.postMessage" and c.params.get("thread_ts") == ts
                for c in sandbox.calls
            ),
            15,
            lambda: f"the placeholder was never sent\n{fleet}",
        )
        first.kill()
        killed = time.monotonic()
        # Slack finishes the call the dead client made: the message exists, unknown to the bot
        await wait_until(lambda: len(bot_replies(sandbox, ALERT_CHANNEL, ts)) == 1, 10)
        orphan = bot_replies(sandbox, ALERT_CHANNEL, ts)[0]
        sandbox.delay("chat.postMessage", 0)

        second = await fleet.spawn("second", env)
        await wait_until(
            lambda: any(is_final(m) for m in bot_replies(sandbox, ALERT_CHANNEL, ts)),
            RECLAIM_IDLE_S + 20,
            lambda: f"the job was never finished\n{fleet}",
        )
        recovered_s = time.monotonic() - killed
        async with asyncio.timeout(10):  # the audit record is written after the final edit
            while not await queue_idle(own_client):
                await asyncio.sleep(0.05)
        replies = bot_replies(sandbox, ALERT_CHANNEL, ts)
        # the orphaned summary card is found and edited, not posted again; then the analysis
        assert len(replies) == 3 and replies[0]["ts"] == orphan["ts"], f"posted twice\n{fleet}"
        assert is_final(replies[2]) and not is_final(replies[0])
        assert second.events("reply_recovered"), str(second)
        job_id = f"msg:{ALERT_CHANNEL}:{ts}"
        records = [r for r in await AuditLog(own_client).records() if r.get("source_job") == job_id]
        assert [r["kind"] for r in records] == ["triage"]
        record(recovered_after_kill_s=round(recovered_s, 2))
