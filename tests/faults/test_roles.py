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
    bot_replies,
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


async def test_fast_and_analysis_roles_run_one_stage_each(
    tmp_path: Path,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    own_redis: EmbeddedRedis,
    own_client: redis.Redis,
    record: Callable[..., None],
) -> None:
    """`--role fast` posts the cards and queues the analyses without calling the model; a
    separate `--role analysis` process (what an HPA on `wizard_analysis_waiting` scales) answers."""
    env = bot_env(
        sandbox=sandbox, redis_url=own_redis.url, data_dir=tmp_path / "data", llm_url=llm.base_url
    )
    async with running_bots(tmp_path / "logs") as fleet, aiohttp.ClientSession() as session:
        intake = await fleet.spawn("intake", env, ["--role", "intake"])
        fast = await fleet.spawn("fast", env, ["--role", "fast"])
        slack = SlackEvents(session)
        threads = []
        for n in range(3):
            message = sandbox.inject_message(ALERT_CHANNEL, alert_message(600 + n))
            threads.append(message["ts"])
            assert await slack.deliver(intake, message, f"EvStage{n:03d}") == 200
        await wait_until(
            lambda: all(bot_replies(sandbox, ALERT_CHANNEL, ts) for ts in threads),
            30,
            lambda: f"the fast stage posted no card\n{fleet}",
        )
        await wait_until(lambda: len(fast.done("fast")) == 3, 10, lambda: f"fast jobs\n{fleet}")
        assert await own_client.xlen("wizard:analyses") == 3  # queued, nobody to run them
        assert llm.calls == 0 and not any(finals(sandbox, ALERT_CHANNEL, ts) for ts in threads)

        analysis = await fleet.spawn("analysis", env, ["--role", "analysis"])
        await wait_until(
            lambda: all(len(finals(sandbox, ALERT_CHANNEL, ts)) == 1 for ts in threads),
            30,
            lambda: f"the analysis stage did not answer\n{fleet}",
        )
        await wait_until(lambda: len(analysis.done("analysis")) == 3, 10, lambda: str(fleet))
        assert fast.done("analysis") == [] and analysis.done("fast") == []
        record(alerts=3, fast_jobs=3, analyses=3)
