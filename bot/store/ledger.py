"""The job ledger: what a job already posted, so a re-run edits instead of double-posting.

A worker that dies after posting but before acking leaves its job pending; another worker claims it
(XAUTOCLAIM). Before posting, the worker asks the ledger whether a message for this job and slot
("root" for a message the bot opens a thread with, "reply" for its threaded answer) exists already.
"""

from __future__ import annotations

import redis.asyncio as redis

from bot.store import keys
from bot.store.typed import fields, text_map, text_or_none

JOB_TTL_S = 7 * 24 * 3600


class JobLedger:
    """A Redis hash per job: `{slot}_ts`, `{slot}_state`, `state`, `attempts`."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def get(self, job_id: str) -> dict[str, str]:
        return text_map(await self.redis.hgetall(keys.job(job_id)))

    async def set(self, job_id: str, **values: str) -> None:
        key = keys.job(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields(values))
            pipe.expire(key, JOB_TTL_S)
            await pipe.execute()

    async def attempt(self, job_id: str) -> int:
        """Count one more attempt at the job; returns the count including this one."""
        key = keys.job(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "attempts", 1)
            pipe.expire(key, JOB_TTL_S)
            count, _ = await pipe.execute()
        return int(count)

    async def begin(self, job_id: str) -> tuple[bool, int]:
        """(already done, attempts including this one), in one round trip: what a worker asks
        before it runs a job."""
        key = keys.job(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, "state")
            pipe.hincrby(key, "attempts", 1)
            pipe.expire(key, JOB_TTL_S)
            state, count, _ = await pipe.execute()
        return text_or_none(state) == "done", int(count)

    async def finish(self, job_id: str, stream: str, group: str, entry_id: str) -> None:
        """Mark the job done and ack its stream entry in one transaction."""
        key = keys.job(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "state", "done")
            pipe.expire(key, JOB_TTL_S)
            pipe.xack(stream, group, entry_id)
            await pipe.execute()
