"""The worker's job lease, in-process against the real Redis: the mechanism the process-level
scenarios rely on, checked deterministically.

- A job that runs longer than `claim_idle_ms` is not taken over while its worker is alive (the
  worker renews the lease), so replicas with a short reclaim time do not answer slow jobs twice.
- A worker whose lease was taken (another worker claimed the job after an outage) abandons its run
  instead of finishing the job a second time, and leaves the ack to the new owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import redis.asyncio as redis

from bot.pipeline.intake import Intake
from bot.pipeline.jobs import AlertJob, JobBase
from bot.pipeline.worker import Worker, ensure_group
from bot.store import keys

IDLE_MS = 1000
"""The reclaim idle time here: renewals come every IDLE_MS/3, so a loaded 2-core machine can
stall the owner's loop for ~600 ms without a false takeover (200 ms made that a coin toss)."""


class CountingWorker(Worker):
    """A worker that counts its reclaim rounds, so the test waits on rounds, not on time."""

    rounds = 0

    async def _reclaim(self, count: int) -> list[tuple[str, dict[str, str]]]:
        claimed = await super()._reclaim(count)
        self.rounds += 1
        return claimed


async def _until(predicate: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def _job(n: int) -> AlertJob:
    return AlertJob(id=f"msg:C1:{n}.0", channel="C1", ts=f"{n}.0", message={}, event_id=f"Ev{n}")


async def test_slow_job_keeps_its_lease_against_an_eager_rescuer(redis_client: redis.Redis) -> None:
    await ensure_group(redis_client)
    await Intake(redis_client).submit_slack(_job(1))
    runs: list[str] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(job: JobBase) -> None:
        runs.append("slow")
        started.set()
        await release.wait()  # held until it has outlived the idle time, under claim attempts

    async def rescue(job: JobBase) -> None:
        runs.append("rescuer")

    owner = Worker(redis_client, "owner", slow, block_ms=50, claim_idle_ms=IDLE_MS, claim_every_s=0)
    owner_task = asyncio.create_task(owner.run())
    await asyncio.wait_for(started.wait(), 10)
    began = asyncio.get_running_loop().time()
    rescuer = CountingWorker(redis_client, "rescuer", rescue, block_ms=50, claim_idle_ms=IDLE_MS)
    rescuer.claim_every_s = 0
    rescuer_task = asyncio.create_task(rescuer.run())
    try:
        # the job runs past 3x the idle time while the rescuer keeps trying to claim it
        await _until(
            lambda: asyncio.get_running_loop().time() - began > 3 * IDLE_MS / 1000
            and rescuer.rounds >= 10
        )
        release.set()
        await _until(lambda: owner.processed == 1)
        rounds = rescuer.rounds
        await _until(lambda: rescuer.rounds >= rounds + 5)  # more rounds: nothing left to take
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

    async def slow(job: JobBase) -> None:
        if job.id == _job(3).id:  # the next job, after the lease of this one was taken
            finished.append(job.id)
            return
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
        await asyncio.wait_for(cancelled.wait(), 10)  # noticed at the next renewal (0.1 s)
        # the worker lives on, only the job was dropped: it takes and finishes the next one
        await Intake(redis_client).submit_slack(_job(3))
        await _until(lambda: owner.processed == 1)
        assert not task.done()
    finally:
        owner.stop()
        await asyncio.wait_for(task, 5)
    assert finished == [_job(3).id]  # never the job whose lease was taken
    pending = await redis_client.xpending_range(
        keys.JOBS_STREAM, keys.JOBS_GROUP, min="-", max="+", count=10
    )
    assert [p["consumer"] for p in pending] == ["rescuer"]  # not acked by the loser
    assert await redis_client.hget(keys.job(_job(2).id), "state") != "done"


async def test_a_worker_never_runs_its_own_running_job_twice(redis_client: redis.Redis) -> None:
    """A Redis outage can outlast the lease; the next XAUTOCLAIM then hands the running job
    back to its own worker (a concurrent one), which must not start it a second time."""
    await ensure_group(redis_client)
    await Intake(redis_client).submit_slack(_job(3))
    runs: list[str] = []
    release = asyncio.Event()

    async def slow(job: JobBase) -> None:
        runs.append(job.id)
        await release.wait()

    # the lease is renewed every 10 s, the claim runs constantly with a 50 ms idle: without
    # the guard the job would be claimed back and started again within a few rounds
    worker = Worker(
        redis_client,
        "busy",
        slow,
        concurrency=4,
        block_ms=20,
        claim_idle_ms=50,
        claim_every_s=0,
    )
    worker._keep_lease = _no_renewal  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(5):
            while not runs:
                await asyncio.sleep(0.01)
        for _ in range(10):  # ten claim rounds while the job is still running
            claimed_before = worker._last_claim
            async with asyncio.timeout(5):
                while worker._last_claim == claimed_before:
                    await asyncio.sleep(0.01)
        assert runs == ["msg:C1:3.0"]
        release.set()
        async with asyncio.timeout(5):
            while worker.processed == 0:
                await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
    assert runs == ["msg:C1:3.0"]


async def _no_renewal(entry_id: str, job_id: str, work: asyncio.Task[None]) -> None:
    await asyncio.Event().wait()  # a lease that is never renewed (Redis unreachable)
