"""The locally queued Redis lock (bot/store/locks.py), against a real Redis: one holder at a
time, waiters in one process cost the server nothing, a long wait fails like redis-py's own."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
import redis.asyncio as redis
from redis.exceptions import LockError

from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis
from bot.store.locks import LocallyQueuedLock, Queues


async def _sets(client: redis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_set", {}).get("calls", 0))


def _lock(client: redis.Redis, queues: Queues, wait_s: float = 10.0) -> LocallyQueuedLock:
    remote = client.lock("test:lock", timeout=10, sleep=0.005, blocking_timeout=wait_s)
    return LocallyQueuedLock(remote, queues)


async def test_twenty_waiters_hold_it_in_turn_and_poll_redis_once_each(
    redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    client = connect(redis_server.admin_url)
    queues: Queues = weakref.WeakValueDictionary()
    holding, most, order = 0, 0, []

    async def job(n: int) -> None:
        nonlocal holding, most
        async with _lock(client, queues):
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.01)  # a critical section of a few round trips
            order.append(n)
            holding -= 1

    try:
        before = await _sets(redis_client)
        await asyncio.gather(*(job(n) for n in range(20)))
        sets = await _sets(redis_client) - before
    finally:
        await client.aclose()
    assert most == 1 and order == list(range(20))  # exclusive, in arrival order
    # one SET NX per holder; redis-py's lock alone polls it every 5 ms per waiter (≈ 400 here)
    assert sets == 20
    gc.collect()
    assert not queues  # nobody holds a local lock any more: the entry is gone


async def test_another_process_holding_it_makes_the_front_waiter_poll_and_the_rest_queue(
    redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    client = connect(redis_server.admin_url)
    queues: Queues = weakref.WeakValueDictionary()
    elsewhere = redis_client.lock("test:lock", timeout=10)
    assert await elsewhere.acquire()
    try:
        waiters = [
            asyncio.create_task(_lock(client, queues, wait_s=2).__aenter__()) for _ in range(3)
        ]
        await asyncio.sleep(0.2)
        assert not any(w.done() for w in waiters)
        await elsewhere.release()
        first = await asyncio.wait_for(waiters[0], 2)
        assert not waiters[1].done()
        await first.__aexit__(None, None, None)
        second = await asyncio.wait_for(waiters[1], 2)
        await second.__aexit__(None, None, None)
        await (await asyncio.wait_for(waiters[2], 2)).__aexit__(None, None, None)
    finally:
        await client.aclose()


async def test_a_wait_longer_than_the_lock_allows_is_a_lock_error(
    redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    client = connect(redis_server.admin_url)
    queues: Queues = weakref.WeakValueDictionary()
    try:
        async with _lock(client, queues):
            with pytest.raises(LockError, match="not acquired"):
                async with _lock(client, queues, wait_s=0.2):
                    pass  # pragma: no cover - never entered
    finally:
        await client.aclose()
    assert await redis_client.get("test:lock") is None  # released on the way out
