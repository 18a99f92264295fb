"""Dedup + durable queue + workers that reclaim what a dead worker left behind."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

from bot.pipeline.intake import Intake
from bot.pipeline.jobs import AlertJob, JobBase, WebhookJob
from bot.pipeline.worker import DEAD_LETTER, Worker, WorkerPool, ensure_group
from bot.store import keys


def _job(n: int = 1, event_id: str = "Ev1") -> AlertJob:
    return AlertJob(id=f"msg:C1:{n}.0", channel="C1", ts=f"{n}.0", message={}, event_id=event_id)


async def test_duplicates_by_event_id_and_by_message(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client)
    assert await intake.submit_slack(_job(1, "Ev1"))
    assert not await intake.submit_slack(_job(1, "Ev1"))  # Slack retry
    assert not await intake.submit_slack(_job(1, "Ev2"))  # same message, other event id
    assert await intake.submit_slack(_job(2, "Ev3"))
    assert await redis_client.xlen(keys.JOBS_STREAM) == 2
    ttl = await redis_client.ttl(keys.dedup_event("Ev1"))
    assert 0 < ttl <= 24 * 3600


async def test_concurrent_duplicates_enqueue_once(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client)
    results = await asyncio.gather(*(intake.submit_slack(_job(7, f"Ev{i}")) for i in range(25)))
    assert results.count(True) == 1
    assert await redis_client.xlen(keys.JOBS_STREAM) == 1


async def test_webhook_dedup_on_body(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client)
    job = WebhookJob(id="hook:x")
    assert await intake.submit_webhook(job, b'{"a":1}')
    assert not await intake.submit_webhook(job, b'{"a":1}')
    assert await intake.submit_webhook(job, b'{"a":2}')


async def test_worker_processes_and_acks(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client)
    seen: list[str] = []

    async def handler(job: JobBase) -> None:
        seen.append(job.id)

    for n in range(5):
        await intake.submit_slack(_job(n, f"Ev{n}"))
    pool = WorkerPool([Worker(redis_client, f"w{i}", handler, block_ms=50) for i in range(2)])
    pool.start()
    try:
        async with asyncio.timeout(5):
            while len(seen) < 5:
                await asyncio.sleep(0.02)
        assert pool.alive
    finally:
        await pool.stop()
    assert sorted(seen) == sorted(f"msg:C1:{n}.0" for n in range(5))
    pending = await redis_client.xpending(keys.JOBS_STREAM, keys.JOBS_GROUP)
    assert pending["pending"] == 0


async def test_dead_worker_job_is_reclaimed_and_finished_once(redis_client: redis.Redis) -> None:
    """Worker A dies mid-job (task cancelled, no ack); worker B reclaims it with XAUTOCLAIM."""
    intake = Intake(redis_client)
    await intake.submit_slack(_job(1))
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(job: JobBase) -> None:
        started.set()
        await asyncio.sleep(60)

    async def fast(job: JobBase) -> None:
        finished.append(job.id)

    dying = Worker(redis_client, "dying", slow, block_ms=50)
    task = asyncio.create_task(dying.run())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    rescuer = Worker(redis_client, "rescuer", fast, block_ms=50, claim_idle_ms=100, claim_every_s=0)
    task = asyncio.create_task(rescuer.run())
    try:
        async with asyncio.timeout(5):
            while not finished:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # more claim rounds: must not run again
    finally:
        rescuer.stop()
        await asyncio.wait_for(task, 5)
    assert finished == ["msg:C1:1.0"]


async def test_poison_job_goes_to_dead_letter(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client)
    await intake.submit_slack(_job(1))
    calls = 0

    async def broken(job: JobBase) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    worker = Worker(
        redis_client, "w", broken, block_ms=20, claim_idle_ms=10, claim_every_s=0, max_attempts=2
    )
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(5):
            while await redis_client.xlen(DEAD_LETTER) == 0:
                await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
    assert calls == 2
    dead = await redis_client.xrange(DEAD_LETTER)
    assert dead[0][1]["reason"] == "too_many_attempts"
    pending = await redis_client.xpending(keys.JOBS_STREAM, keys.JOBS_GROUP)
    assert pending["pending"] == 0


async def test_worker_survives_redis_restart(redis_client: redis.Redis, redis_server) -> None:
    """Jobs queued before a Redis restart (AOF) are still processed after it."""
    intake = Intake(redis_client)
    await ensure_group(redis_client)
    await intake.submit_slack(_job(1))
    await redis_client.execute_command("BGREWRITEAOF")
    async with asyncio.timeout(10):  # the rewrite is done (and the job in the new AOF)
        while True:
            info = await redis_client.info("persistence")
            if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                break
            await asyncio.sleep(0.02)
    assert info["aof_last_bgrewrite_status"] == "ok"
    await redis_server.restart()
    seen: list[str] = []

    async def handler(job: JobBase) -> None:
        seen.append(job.id)

    worker = Worker(redis_client, "w", handler, block_ms=50)
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            while not seen:
                await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
    assert seen == ["msg:C1:1.0"]


async def test_worker_recreates_a_lost_group(redis_client: redis.Redis) -> None:
    """A Redis that lost its data (no AOF, FLUSHALL) loses the group too; workers recreate it."""
    seen: list[str] = []

    async def handler(job: JobBase) -> None:
        seen.append(job.id)

    worker = Worker(redis_client, "w", handler, block_ms=50)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.2)
        await redis_client.flushall()
        await asyncio.sleep(0.2)
        await Intake(redis_client).submit_slack(_job(9))
        async with asyncio.timeout(5):
            while not seen:
                await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
    assert seen == ["msg:C1:9.0"]
