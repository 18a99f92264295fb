"""A Redis lock that this process's tasks queue for locally before they poll Redis for it.

redis-py's lock is a poll: a waiter retries `SET NX` every `sleep` seconds. Sixteen workers of one
process waiting on one alert name's match lock (a storm of one alertname over 20 instances)
polled it every 5 ms each: thousands of round trips a second, and the CPU they cost the
workers (and the intake beside them) slowed the very holder they waited for. Here a task first
takes an `asyncio.Lock` of the same name — waiting there costs nothing, and waiters go in
arrival order — and only the one at the front polls Redis, where other replicas compete. Local
waits are bounded by the Redis lock's own blocking timeout and fail with the same `LockError`.
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType

import redis.asyncio as redis
from redis.exceptions import LockError

Queues = weakref.WeakValueDictionary[str, asyncio.Lock]
"""The local locks by name, one mapping per store (entries vanish when nobody holds them)."""


class LocallyQueuedLock:
    """`async with` this: the local queue first, then the Redis lock."""

    def __init__(self, remote: redis.lock.Lock, queues: Queues) -> None:
        self.remote = remote
        self.wait_s: float | None = remote.blocking_timeout  # the local wait's bound too
        name = str(remote.name)
        local = queues.get(name)
        if local is None:
            local = queues[name] = asyncio.Lock()
        self.local = local  # held here: the entry lives while anyone may still wait on it

    async def __aenter__(self) -> LocallyQueuedLock:
        try:
            async with asyncio.timeout(self.wait_s):
                await self.local.acquire()
        except TimeoutError:
            raise LockError(f"lock {self.remote.name!r} not acquired in {self.wait_s} s") from None
        try:
            acquired = await self.remote.acquire()
        except BaseException:
            self.local.release()
            raise
        if not acquired:
            self.local.release()
            raise LockError(f"lock {self.remote.name!r} not acquired (held elsewhere)")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.remote.release()
        finally:
            self.local.release()
