"""Acks first: a one-process `wizard serve` runs its workers below the intake's CPU priority.

Read from outside, where the kernel keeps it (`/proc/<pid>/task/<tid>/stat`: field 19 is the
nice value, field 41 the scheduling policy): the parent's main thread (the workers' event loop)
is SCHED_IDLE by default and nice 10 with `WIZARD_WORKER_PRIORITY=low`; the intake child and the
embedded Redis server the bot started keep the normal policy. And the workers still answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.devtools.slack import SlackSandbox
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

SCHED_OTHER, SCHED_IDLE = 0, 5


def scheduling(pid: int, tid: int | None = None) -> tuple[int, int]:
    """(policy, nice) of one thread, as the kernel reports it."""
    stat = Path(f"/proc/{pid}/task/{tid or pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # fields from the 3rd on: the name may hold spaces
    return int(fields[38]), int(fields[16])


def children(pid: int) -> dict[str, int]:
    """The bot's child processes by role: its intake (a multiprocessing spawn) and its Redis."""
    found = {}
    listed = [t / "children" for t in Path(f"/proc/{pid}/task").iterdir()]  # each thread's
    for child in (c for path in listed for c in path.read_text().split()):
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        found["intake" if b"multiprocessing" in command else "redis"] = int(child)
    return found


@pytest.mark.parametrize(
    ("setting", "expected"), [(None, (SCHED_IDLE, 0)), ("low", (SCHED_OTHER, 10))]
)
async def test_workers_yield_the_cpu_to_the_intake_and_still_answer(
    tmp_path: Path,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    record: Callable[..., None],
    setting: str | None,
    expected: tuple[int, int],
) -> None:
    extra = {"WIZARD_WORKER_PRIORITY": setting} if setting else {}
    env = bot_env(
        sandbox=sandbox, redis_url="", data_dir=tmp_path / "data", llm_url=llm.base_url, **extra
    )
    del env["REDIS_URL"]  # the bot's own embedded Redis: started before the workers yield
    async with running_bots(tmp_path / "logs") as fleet, aiohttp.ClientSession() as session:
        bot = await fleet.spawn("bot", env)
        await wait_until(
            lambda: bool(bot.events("worker_priority_set")), 10, lambda: f"no priority\n{bot}"
        )
        parent = bot.proc.pid
        procs = children(parent)
        assert sorted(procs) == ["intake", "redis"], bot
        assert scheduling(parent) == expected, bot
        assert scheduling(procs["intake"]) == (SCHED_OTHER, 0), bot
        assert scheduling(procs["redis"]) == (SCHED_OTHER, 0), bot

        message = sandbox.inject_message(ALERT_CHANNEL, alert_message(900))
        assert await SlackEvents(session).deliver(bot, message, "EvPriority1") == 200
        await wait_until(
            lambda: bool(finals(sandbox, ALERT_CHANNEL, message["ts"])),
            30,
            lambda: f"the workers did not answer at their priority\n{bot}",
        )
        record(setting=setting or "default", parent=scheduling(parent), intake=(SCHED_OTHER, 0))
