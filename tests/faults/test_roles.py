"""Intake and workers in separate processes (`wizard serve --role intake|worker`).

An intake process only acks (its event loop never runs job CPU, so acks stay fast under load);
worker processes run the jobs from the shared Redis stream. Both serve health and metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import redis.asyncio as redis

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.faults.procs import (
    ALERT_CHANNEL,
    SlackEvents,
    alert_message,
    bot_env,
    finals,
    running_bots,
    wait_until,
)


async def test_intake_acks_and_a_separate_worker_answers(
    tmp_path: Path,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    own_redis: EmbeddedRedis,
    own_client: redis.Redis,
    record: Callable[..., None],
) -> None:
    env = bot_env(
        sandbox=sandbox, redis_url=own_redis.url, data_dir=tmp_path / "data", llm_url=llm.base_url
    )
    async with running_bots(tmp_path / "logs") as fleet, aiohttp.ClientSession() as session:
        intake = await fleet.spawn("intake", env, ["--role", "intake"])
        slack = SlackEvents(session)
        threads = []
        for n in range(5):
            message = sandbox.inject_message(ALERT_CHANNEL, alert_message(500 + n))
            threads.append(message["ts"])
            assert await slack.deliver(intake, message, f"EvRole{n:03d}") == 200
        assert await own_client.xlen("wizard:jobs") == 5  # queued durably, nothing run yet
        assert not any(sandbox.replies(ALERT_CHANNEL, ts)[1:] for ts in threads)

        worker = await fleet.spawn("worker", env, ["--role", "worker"])
        await wait_until(
            lambda: all(finals(sandbox, ALERT_CHANNEL, ts) for ts in threads),
            30,
            lambda: f"the worker did not answer\n{fleet}",
        )
        # the answer is posted before the job's audit record and ack: wait for the job to end
        await wait_until(
            lambda: len(worker.done("fast")) == 5 and len(worker.done("analysis")) == 5,
            10,
            lambda: f"jobs unfinished\n{fleet}",
        )
        assert intake.events("job_done") == []
        assert all(len(finals(sandbox, ALERT_CHANNEL, ts)) == 1 for ts in threads)
        for bot in (intake, worker):
            async with session.get(f"http://127.0.0.1:{bot.port}/healthz") as response:
                assert response.status == 200, bot.name
        record(alerts=5, intake_jobs=0, worker_jobs=5)
