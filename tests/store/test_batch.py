"""Group commit of one script's concurrent calls (bot/store/batch.py), against a real Redis.

What the server sees is read from the server: its connection count and `INFO commandstats`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError, ResponseError

from bot.store.batch import ScriptBatcher
from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis

ECHO_OR_FAIL = """
if ARGV[1] == 'bad' then
  return redis.error_reply('ERR refused ' .. KEYS[1])
end
redis.call('INCR', KEYS[1])
return ARGV[1]
"""


@pytest.fixture
async def batcher(redis_server: EmbeddedRedis) -> AsyncIterator[ScriptBatcher]:
    """The batcher on a client of its own: the server's connection count is its alone."""
    client = connect(redis_server.admin_url)
    yield ScriptBatcher(client, ECHO_OR_FAIL)
    await client.aclose()


async def _stat(client: redis.Redis, command: str) -> int:
    stats = await client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_burst_shares_round_trips_and_each_call_gets_its_own_answer(
    batcher: ScriptBatcher, redis_client: redis.Redis
) -> None:
    await batcher(keys=["warm"], args=["x"])  # loads the script, opens the connection
    connections = int((await redis_client.info("stats"))["total_connections_received"])
    calls = [batcher(keys=[f"k{n}"], args=["bad" if n % 50 == 7 else f"v{n}"]) for n in range(500)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    opened = int((await redis_client.info("stats"))["total_connections_received"])

    for n, result in enumerate(results):
        if n % 50 == 7:  # its own error, and only its own
            assert isinstance(result, ResponseError) and f"refused k{n}" in str(result)
        else:
            assert result == f"v{n}"
    assert [await redis_client.get(f"k{n}") for n in (0, 7, 499)] == ["1", None, "1"]
    # awaited one by one, 500 concurrent calls would each have taken a pooled connection
    assert opened - connections <= 2


async def test_a_flushed_script_cache_is_reloaded_and_the_calls_answered(
    batcher: ScriptBatcher, redis_client: redis.Redis
) -> None:
    assert await batcher(keys=["a"], args=["one"]) == "one"
    await redis_client.script_flush()  # as after a Redis restart without the AOF's scripts
    loads = await _stat(redis_client, "script|load")
    results = await asyncio.gather(*(batcher(keys=["a"], args=[str(n)]) for n in range(20)))
    assert results == [str(n) for n in range(20)]
    assert await _stat(redis_client, "script|load") == loads + 1
    assert await redis_client.get("a") == "21"


async def test_an_unreachable_redis_fails_every_call_of_the_batch() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = redis.Redis(port=port, socket_connect_timeout=0.5, retry=None)
    try:
        batcher = ScriptBatcher(client, ECHO_OR_FAIL)
        results = await asyncio.gather(
            *(batcher(keys=[f"k{n}"], args=["v"]) for n in range(10)), return_exceptions=True
        )
    finally:
        await client.aclose()
    assert all(isinstance(r, ConnectionError) for r in results), results


async def test_a_cancelled_caller_does_not_fail_the_others(batcher: ScriptBatcher) -> None:
    tasks = [asyncio.create_task(batcher(keys=[f"c{n}"], args=[f"v{n}"])) for n in range(10)]
    await asyncio.sleep(0)  # all queued, the flush not yet sent
    tasks[3].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[3], asyncio.CancelledError)
    assert [d for n, d in enumerate(done) if n != 3] == [f"v{n}" for n in range(10) if n != 3]


async def test_calls_one_after_another_are_one_script_run_each(
    batcher: ScriptBatcher, redis_client: redis.Redis
) -> None:
    await batcher(keys=["w"], args=["w"])
    before = await _stat(redis_client, "evalsha")
    for n in range(3):
        assert await batcher(keys=[f"s{n}"], args=["ok"]) == "ok"
    assert await _stat(redis_client, "evalsha") == before + 3
