"""The summary-update queue against the real Redis: debounce, one `chat.update` budget for every
replica (two Redis clients stand for two replicas), refunds for no-op updates, the shared 429
pause, and end to end: a card in a burst reaches its final state with few updates, and a 429
Slack sends one replica pauses the budget in Redis for all."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.incidents.summaries import SummaryQueue, rendering_digest
from bot.store import keys
from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis
from tests.harness import ALERT_CHANNEL, blocks_text
from tests.incidents.test_flow import alert_message

T0 = 1_800_000_000.0


async def test_a_dirty_summary_waits_for_quiet_but_never_past_three_intervals(
    redis_client: Any,
) -> None:
    queue = SummaryQueue(redis_client, interval_s=5, quiet_s=1)
    assert await queue.mark_dirty("INC-1", T0) == T0 + 1  # first change: due after 1 s of quiet
    assert await queue.mark_dirty("INC-1", T0 + 0.5) == T0 + 1.5  # a new alert moves it on
    due = 0.0
    for step in range(1, 30):  # an alert every 0.5 s, no pause: the card must still move
        due = await queue.mark_dirty("INC-1", T0 + step * 0.5)
    assert due == T0 + 15  # first dirty + 3 × interval, however busy the incident stays
    assert await queue.claim_due(10, T0 + 14.9) == []
    assert await queue.claim_due(10, T0 + 15) == ["INC-1"]

    await queue.rendered("INC-2", T0)  # updated a moment ago: not again before the interval
    assert await queue.mark_dirty("INC-2", T0 + 0.1) == T0 + 5
    assert await queue.pending() == 1


async def test_two_replicas_together_never_spend_more_than_one_budget(
    redis_client: Any, redis_server: EmbeddedRedis
) -> None:
    second = connect(redis_server.url)  # another replica: its own connection, the bot's user
    try:
        a = SummaryQueue(redis_client, per_minute=60)  # 1 token/s, burst 30
        b = SummaryQueue(second, per_minute=60)
        for n in range(200):
            await a.mark_dirty(f"INC-{n}")  # due now (no quiet period)
        claimed: list[str] = []
        started = time.monotonic()
        while time.monotonic() - started < 2.5:  # both replicas claim as fast as they can
            for got in await asyncio.gather(a.claim_due(10), b.claim_due(10)):
                claimed += got
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        assert len(set(claimed)) == len(claimed)  # each summary claimed by one replica only
        # one bucket: its burst plus its refill — two per-process buckets would give twice that
        assert 30 <= len(claimed) <= 30 + elapsed * 1.0 + 1, (len(claimed), elapsed)
    finally:
        await second.aclose()


async def test_an_unchanged_summary_gives_its_token_back(redis_client: Any) -> None:
    queue = SummaryQueue(redis_client, per_minute=2)  # burst 1, refill one per 30 s
    await queue.mark_dirty("INC-1")
    await queue.mark_dirty("INC-2")
    assert len(await queue.claim_due(10)) == 1
    assert await queue.claim_due(10) == []  # budget spent
    await queue.refund()
    assert len(await queue.claim_due(10)) == 1


async def test_a_429_on_chat_update_pauses_every_replica(redis_client: Any) -> None:
    queue = SummaryQueue(redis_client, per_minute=60)
    await queue.mark_dirty("INC-1")
    await queue.on_slack_limit("chat.postMessage", 30)  # another method's limit: no pause
    await queue.on_slack_limit("chat.update", 30)
    other = SummaryQueue(redis_client, per_minute=60)
    assert await other.claim_due(10) == []
    until = float(await redis_client.hget(keys.SUMMARY_BUCKET, "paused_until"))
    assert 25 < until - time.time() <= 30


def test_the_digest_sees_any_visible_change() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "3 notifications"}}]
    same = [{"text": {"text": "3 notifications", "type": "mrkdwn"}, "type": "section"}]
    assert rendering_digest(blocks, "x") == rendering_digest(same, "x")
    assert rendering_digest(blocks, "x") != rendering_digest(blocks, "y")


async def _until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


async def test_a_burst_into_one_incident_ends_in_its_final_state_with_few_updates(
    make_bot: Any,
) -> None:
    bot = await make_bot(
        WIZARD_SUMMARY_INTERVAL_S=1.0, WIZARD_SUMMARY_QUIET_S=0.5, WIZARD_LLM_MAX_PER_INCIDENT=0
    )
    messages = [
        bot.sandbox.inject_message(ALERT_CHANNEL, alert_message("BurstLatency", "svc-burst"))
        for _ in range(30)
    ]
    assert {await bot.event(m) for m in messages} == {200}
    await bot.settle(timeout=60)
    incidents = await bot.runtime.incidents.open_incidents(10)
    assert [i.events for i in incidents] == [30]
    assert "30 notifications" in blocks_text(bot.summary(ALERT_CHANNEL, incidents[0].thread_ts))
    updates = bot.calls("chat.update")
    assert 1 <= len(updates) <= 5, len(updates)  # debounced: not one per alert


async def test_slacks_429_on_a_summary_update_pauses_the_shared_budget(make_bot: Any) -> None:
    bot = await make_bot(WIZARD_SUMMARY_INTERVAL_S=0.2, WIZARD_LLM_MAX_PER_INCIDENT=0)
    first = bot.sandbox.inject_message(ALERT_CHANNEL, alert_message("PauseMe", "svc-pause"))
    assert await bot.event(first) == 200
    await bot.settle(timeout=30)
    bot.sandbox.fail_next("chat.update", status=429, retry_after=3)
    again = bot.sandbox.inject_message(ALERT_CHANNEL, alert_message("PauseMe", "svc-pause"))
    assert await bot.event(again) == 200
    redis = bot.runtime.redis

    async def paused() -> bool:
        return await redis.hget(keys.SUMMARY_BUCKET, "paused_until") is not None

    await _until(paused, 20)
    until = float(await redis.hget(keys.SUMMARY_BUCKET, "paused_until"))
    assert until - time.time() > 1  # Slack's 3 s, shared with every replica through Redis
    await bot.settle(timeout=30)  # the SDK retried after Retry-After: the update landed
    incidents = await bot.runtime.incidents.open_incidents(10)
    assert "2 notifications" in blocks_text(bot.summary(ALERT_CHANNEL, incidents[0].thread_ts))
