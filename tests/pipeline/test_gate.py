"""The model gate: a concurrency bound, a pause that follows the API's rate-limit headers, and
the "waiting for a slot" notice; plus the stage worker running many analyses side by side."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import redis.asyncio as redis

from bot.pipeline.gate import MAX_PAUSE_S, ModelGate, pause_from_headers
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import JobBase, QuestionAnalysis
from bot.pipeline.worker import ANALYSIS, Worker, ensure_group
from bot.store import keys

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_headers_that_ask_for_a_pause() -> None:
    wall = NOW.timestamp()
    assert pause_from_headers({"retry-after": "7"}, wall) == (7.0, "retry-after")
    assert pause_from_headers({"Retry-After-Ms": "1500"}, wall) == (1.5, "retry-after-ms")
    http_date = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert pause_from_headers({"retry-after": http_date}, wall) == (30.0, "retry-after")
    reset = (NOW + timedelta(seconds=12)).isoformat().replace("+00:00", "Z")
    spent = {
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": reset,
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": reset,
    }
    assert pause_from_headers(spent, wall) == (12.0, "tokens limit reached")
    # with retry-after, that is the wait: a reset is when the bucket is *fully* refilled
    assert pause_from_headers({**spent, "retry-after": "2"}, wall) == (2.0, "retry-after")
    # capacity left, an unreadable value, a reset in the past: no pause
    assert pause_from_headers({**spent, "anthropic-ratelimit-tokens-remaining": "10"}, wall) is None
    assert pause_from_headers({"retry-after": "soon"}, wall) is None
    assert pause_from_headers({"retry-after": "-3"}, wall) is None
    # a malformed header cannot stop analyses for good
    assert pause_from_headers({"retry-after": "999999"}, wall) == (MAX_PAUSE_S, "retry-after")


async def test_gate_bounds_concurrency_and_tells_who_waits() -> None:
    gate = ModelGate(2)
    running = 0
    peak = 0
    waited: list[int] = []
    release = asyncio.Event()

    async def call(n: int) -> None:
        nonlocal running, peak

        async def notice() -> None:
            waited.append(n)

        async with gate.slot(notice):
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(call(n)) for n in range(5)]
    async with asyncio.timeout(5):
        while gate.waiting < 3:
            await asyncio.sleep(0.01)
    assert gate.in_use == 2 and sorted(waited) == [2, 3, 4]
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert peak == 2 and gate.in_use == 0 and gate.waiting == 0


async def test_retry_after_pauses_new_calls_until_it_passes() -> None:
    gate = ModelGate(8)
    gate.observe({"retry-after": "0.3", "content-type": "application/json"})
    assert gate.would_wait()
    notices: list[str] = []

    async def notice() -> None:
        notices.append("queued")

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with gate.slot(notice):
        waited = loop.time() - started
    assert waited >= 0.25 and notices == ["queued"]
    assert not gate.would_wait()
    gate.observe({"anthropic-ratelimit-requests-remaining": "3"})  # capacity left: no pause
    assert gate.paused_for == 0


async def test_a_failing_notice_does_not_lose_the_call() -> None:
    gate = ModelGate(1)

    async def broken() -> None:
        raise RuntimeError("slack is down")

    async with gate.slot():
        holder = asyncio.create_task(_hold(gate, broken))
        await asyncio.sleep(0.05)
        assert not holder.done()
    assert await asyncio.wait_for(holder, 5) == "ran"


async def _hold(gate: ModelGate, notice: object) -> str:
    async with gate.slot(notice):  # type: ignore[arg-type]
        return "ran"


async def test_analysis_worker_runs_analyses_side_by_side(redis_client: redis.Redis) -> None:
    """24 slow analyses run at once in one worker (not one after another), each acked once."""
    await ensure_group(redis_client)
    intake = Intake(redis_client)
    for n in range(24):
        await intake.submit_analysis(
            QuestionAnalysis(
                id=f"an:reply:cmd:{n}", source_job=f"cmd:{n}", channel="C1", text=f"question {n}"
            )
        )
    assert not await intake.submit_analysis(
        QuestionAnalysis(id="an:reply:cmd:3", source_job="cmd:3", channel="C1", text="again")
    )  # a reclaimed fast job asking again is deduplicated
    gate = ModelGate(64)
    done: list[str] = []
    all_in = asyncio.Event()

    async def analyse(job: JobBase) -> None:
        async with gate.slot():
            if gate.in_use == 24:
                all_in.set()
            await all_in.wait()  # returns only once all 24 hold a slot together
        done.append(job.id)

    worker = Worker(redis_client, "analyst", analyse, stage=ANALYSIS, concurrency=128, block_ms=50)
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            while len(done) < 24:
                await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
    assert sorted(done) == sorted(f"an:reply:cmd:{n}" for n in range(24))
    pending = await redis_client.xpending(keys.ANALYSIS_STREAM, keys.ANALYSIS_GROUP)
    assert pending["pending"] == 0
