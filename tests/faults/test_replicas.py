"""Scenario 5: two bot replicas on one Redis receive the same events; each alert is answered once.

Slack redelivers an event it thinks failed, and a load balancer may send the redelivery to the
other replica; with Socket Mode, Slack may push the same event down every open connection. Either
way both replicas see every event. The atomic intake (dedup keys + XADD in one Lua script) must
queue each alert once, and the shared consumer group must hand each job to one worker.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as redis

from bot.audit import anchor
from bot.audit.log import AuditLog
from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.signing import event_body
from tests.faults.procs import (
    ALERT_CHANNEL,
    AUDIT_KEY,
    SlackEvents,
    alert_message,
    bot_env,
    bot_replies,
    finals,
    is_final,
    queue_idle,
    running_bots,
    wait_until,
)

pytestmark = pytest.mark.faults

ALERTS = 12


async def _assert_each_answered_once(
    sandbox: SlackSandbox, client: redis.Redis, threads: list[str], fleet: object
) -> float:
    started = time.monotonic()

    def answered() -> int:
        return sum(
            any(is_final(m) for m in bot_replies(sandbox, ALERT_CHANNEL, ts)) for ts in threads
        )

    await wait_until(
        lambda: answered() == len(threads), 40, lambda: f"{answered()}/{len(threads)}\n{fleet}"
    )
    async with asyncio.timeout(15):
        while not await queue_idle(client):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a late duplicate would post now
    for ts in threads:
        replies = bot_replies(sandbox, ALERT_CHANNEL, ts)
        assert len(replies) == 3, f"thread {ts}: {len(replies)} replies\n{fleet}"
        assert len(finals(sandbox, ALERT_CHANNEL, ts)) == 1
        posts = [
            c
            for c in sandbox.calls
            if c.method == "chat.postMessage" and c.params.get("thread_ts") == ts
        ]
        assert len(posts) == 3, f"thread {ts}: {len(posts)} posts"  # summary + analysis + plan
    triage = [r for r in await AuditLog(client).records() if r["kind"] == "triage"]
    assert sorted(r["source_job"] for r in triage) == sorted(
        f"msg:{ALERT_CHANNEL}:{ts}" for ts in threads
    )
    key = anchor.audit_key(AUDIT_KEY)  # the fleet's shared key: every replica signs with it
    checked, broken = await AuditLog(client, key=key).verify()
    assert broken is None and checked == len(triage)
    return time.monotonic() - started


async def test_two_http_replicas_same_events_each_alert_answered_once(
    tmp_path: Path,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    own_redis: EmbeddedRedis,
    own_client: redis.Redis,
    record: Callable[..., None],
) -> None:
    llm.delay(0.2)
    async with running_bots(tmp_path / "logs") as fleet, aiohttp.ClientSession() as session:
        replicas = await asyncio.gather(
            *(
                fleet.spawn(
                    name,
                    bot_env(
                        sandbox=sandbox,
                        redis_url=own_redis.url,
                        data_dir=tmp_path / name,  # each replica has its own disk
                        llm_url=llm.base_url,
                    ),
                )
                for name in ("replica-a", "replica-b")
            )
        )
        slack = SlackEvents(session)
        threads = []
        for n in range(ALERTS):
            message = sandbox.inject_message(ALERT_CHANNEL, alert_message(300 + n))
            threads.append(message["ts"])
            event_id = f"EvRep{n:04d}"
            # the first delivery reaches both replicas at once; then Slack's retry, to either
            statuses = await asyncio.gather(
                *(slack.deliver(bot, message, event_id) for bot in replicas)
            )
            assert statuses == [200, 200]
            assert await slack.deliver(replicas[n % 2], message, event_id, retry=1) == 200
        took = await _assert_each_answered_once(sandbox, own_client, threads, fleet)

        enqueued = fleet.events("job_enqueued")
        assert len([e for e in enqueued if e["stage"] == "fast"]) == ALERTS
        assert len([e for e in enqueued if e["stage"] == "analysis"]) == ALERTS
        assert len(fleet.events("job_duplicate")) == 2 * ALERTS
        done_by = {bot.name: len(bot.done("fast")) for bot in replicas}
        assert sum(done_by.values()) == ALERTS
        assert sum(len(bot.done("analysis")) for bot in replicas) == ALERTS
        record(alerts=ALERTS, deliveries=3 * ALERTS, answered_all_s=round(took, 2), **done_by)


async def test_two_socket_mode_replicas_same_envelopes_each_alert_answered_once(
    tmp_path: Path,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    own_redis: EmbeddedRedis,
    own_client: redis.Redis,
    record: Callable[..., None],
) -> None:
    llm.delay(0.2)
    async with running_bots(tmp_path / "logs") as fleet:
        replicas = await asyncio.gather(
            *(
                fleet.spawn(
                    name,
                    bot_env(
                        sandbox=sandbox,
                        redis_url=own_redis.url,
                        data_dir=tmp_path / name,
                        llm_url=llm.base_url,
                        socket_mode=True,
                    ),
                )
                for name in ("socket-a", "socket-b")
            )
        )
        await sandbox.wait_for_connection(timeout=20, count=2)
        threads = []
        for n in range(ALERTS):
            message = sandbox.inject_message(ALERT_CHANNEL, alert_message(400 + n))
            threads.append(message["ts"])
            payload = json.loads(event_body(message, event_id=f"EvSock{n:04d}"))
            envelope_id = await sandbox.send_envelope(payload)  # to both connections
            await sandbox.wait_for_ack(envelope_id, timeout=5)
        took = await _assert_each_answered_once(sandbox, own_client, threads, fleet)

        enqueued = fleet.events("job_enqueued")
        assert len([e for e in enqueued if e["stage"] == "fast"]) == ALERTS
        assert len([e for e in enqueued if e["stage"] == "analysis"]) == ALERTS
        assert len(fleet.events("job_duplicate")) == ALERTS
        done_by = {bot.name: len(bot.done("fast")) for bot in replicas}
        assert sum(done_by.values()) == ALERTS
        assert sum(len(bot.done("analysis")) for bot in replicas) == ALERTS
        record(alerts=ALERTS, envelopes=ALERTS, answered_all_s=round(took, 2), **done_by)
