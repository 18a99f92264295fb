"""The worker's job lease, in-process against the real Redis: the mechanism the process-level
scenarios rely on, checked deterministically.

- A job that runs longer than `claim_idle_ms` is not taken over while its worker is alive (the
  worker renews the lease), so replicas with a short reclaim time do not answer slow jobs twice.
- A worker whose lease was taken (another worker claimed the job after an outage) abandons its run
  instead of finishing the job a second time, and leaves the ack to the new owner.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

from bot.pipeline.intake import Intake
from bot.pipeline.jobs import Job
from bot.pipeline.worker import Worker, ensure_group
from bot.store import keys


def _job(n: int) -> Job:
    return Job(id=f"msg:C1:{n}.0", kind="alert", channel="C1", ts=f"{n}.0", event_id=f"Ev{n}")


async def test_slow_job_keeps_its_lease_against_an_eager_rescuer(redis_client: redis.Redis) -> None:
    await ensure_group(redis_client)
    await Intake(redis_client).submit_slack(_job(1))
    runs: list[str] = []
    started = asyncio.Event()

    async def slow(job: Job) -> None:
        runs.append("slow")
        started.set()
        await asyncio.sleep(1.5)  # 7x the idle time below

    async def rescue(job: Job) -> None:
        runs.append("rescuer")

    owner = Worker(redis_client, "owner", slow, block_ms=50, claim_idle_ms=200, claim_every_s=0)
    owner_task = asyncio.create_task(owner.run())
    await asyncio.wait_for(started.wait(), 5)
    rescuer = Worker(redis_client, "rescuer", rescue, block_ms=50, claim_idle_ms=200)
    rescuer.claim_every_s = 0
    rescuer_task = asyncio.create_task(rescuer.run())
    try:
        async with asyncio.timeout(10):
            while owner.processed == 0:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # more claim rounds: nothing left to take
    finally:
        owner.stop()
        rescuer.stop()
        await asyncio.wait_for(asyncio.gather(owner_task, rescuer_task), 5)
    assert runs == ["slow"]
    assert (await redis_client.xpending(keys.JOBS_STREAM, keys.JOBS_GROUP))["pending"] == 0


async def test_worker_that_lost_its_lease_abandons_the_job(redis_client: redis.Redis) -> None:
    await ensure_group(redis_client)
    await Intake(redis_client).submit_slack(_job(2))
    started = asyncio.Event()
    cancelled = asyncio.Event()
    finished: list[str] = []

    async def slow(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.append(job.id)  # must never get here: the lease is taken below

    owner = Worker(redis_client, "owner", slow, block_ms=50, claim_idle_ms=300)
    task = asyncio.create_task(owner.run())
    try:
        await asyncio.wait_for(started.wait(), 5)
        pending = await redis_client.xpending_range(
            keys.JOBS_STREAM, keys.JOBS_GROUP, min="-", max="+", count=10
        )
        # what a rescuer's XAUTOCLAIM does once the lease lapsed during a Redis outage
        await redis_client.xclaim(
            keys.JOBS_STREAM, keys.JOBS_GROUP, "rescuer", 0, [pending[0]["message_id"]]
        )
        await asyncio.wait_for(cancelled.wait(), 2)  # noticed at the next renewal (0.1 s)
        await asyncio.sleep(0.2)
        assert not task.done()  # the worker lives on; only the job was dropped
    finally:
        owner.stop()
        await asyncio.wait_for(task, 5)
    assert finished == []
    assert owner.processed == 0
    pending = await redis_client.xpending_range(
        keys.JOBS_STREAM, keys.JOBS_GROUP, min="-", max="+", count=10
    )
    assert [p["consumer"] for p in pending] == ["rescuer"]  # not acked by the loser
    assert await redis_client.hget(keys.job(_job(2).id), "state") != "done"
