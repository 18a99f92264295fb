"""Group commit: concurrent calls of one Lua script sent to Redis together, one pipeline a turn.

The intake runs one script per event (dedup + XADD, `bot/pipeline/intake.py`). Awaited one by one,
each call is a round trip with its own socket write and read, and under a burst each waiting
call holds its own pooled connection: at 500 events/s on two cores a backlog of acks opened
hundreds of connections (each with its handshake), which made the backlog grow — a fresh bot's
storm acked at p50 0.4–1.3 s in one run out of two (bench/results/stages-storm.json).

Here the first call of a loop turn schedules a flush; calls made before it runs join it; while a
pipeline is out, new calls wait for the next one. So a lone call costs what it did (one round
trip, sent on the next loop turn), and a burst costs one round trip per batch, on one
connection: the busier the intake, the less each event costs. Each call gets its own result or
its own error (`raise_on_error=False`): one event refused with OOM does not fail its batch.
A connection error fails the whole batch after redis-py's retries, as it failed each call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.exceptions import NoScriptError

MAX_BATCH = 128
"""Calls per pipeline: a bound on one reply's size and on the wait of the batch's first call."""

Call = tuple[Sequence[str], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatcher:
    """`await batcher(keys=…, args=…)` runs the script like `client.register_script(…)(…)`."""

    def __init__(self, client: redis.Redis, script: str) -> None:
        self.client = client
        self.script = client.register_script(script)
        self._pending: list[Call] = []
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, *, keys: Sequence[str], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((keys, args, future))
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._flusher = loop.create_task(self._flush(), name="script-batch")
        return await future

    async def _flush(self) -> None:
        """Send what is pending, batch after batch, until nothing is."""
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                results = await self._run(batch)
            except asyncio.CancelledError:  # the loop is closing: so are its callers
                for _, _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # the batch failed as a whole: each call learns why
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():  # its caller was cancelled: the script ran anyway
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _run(self, batch: list[Call]) -> list[Any]:
        results = await self._pipeline(batch)
        if any(isinstance(r, NoScriptError) for r in results):  # Redis restarted or flushed
            await self.client.script_load(self.script.script)
            again = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            for i, result in zip(
                again, await self._pipeline([batch[i] for i in again]), strict=True
            ):
                results[i] = result
        return results

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self.script.sha, len(keys), *keys, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        return results
