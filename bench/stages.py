"""Issue 10's engine targets: our bot (as `wizard serve`) against the naive Bolt bot, in one run.

Scenarios (each on a fresh bot process, a fresh Redis database, the local Slack sandbox and the
fake Anthropic server with a fixed latency; Slack's redelivery emulated as in compare.py):

- burst: 60 distinct incidents at 10/s, model 20 s, deadline 40 s → first threaded message and
  model answer p50/p95, fallbacks, duplicate threads (target: p95 ≤ 1 s / ≤ 22 s, 0, 0);
- questions: 24 concurrent `/wizard` questions (model 20 s), then 5 new alerts → the alerts'
  cards p95 (≤ 1 s) and every question answered once (ours only: the baseline has no command);
- ack: 600 distinct alerts at 200/s, model 2 s, one default process → ack p50/p95/p99 (≤ 25 ms)
  and the bot process's CPU per alert (utime + stime over the run ÷ alerts, everything included:
  intake, fast job, analysis, model call);
- storm: 1000 alerts over 20 groups at 500/s on a fresh bot → ack p99 (≤ 100 ms), model calls
  (≤ 20), every alert counted in Redis (≤ 10 s), the 20 cards final in Slack (≤ 30 s);
- rss: 10 000 signed events (distinct alerts, 100/s, model 0.1 s) to one default `wizard serve`
  → its VmRSS after the first 1000 and after 10 000 (target: flat within ±10 %), ours only.

`--out FILE` keeps the other scenarios' entries already in FILE (each run replaces only the
scenarios it ran), so two people benching different scenarios do not overwrite each other.

`--split` runs the storm a third time on `serve --role intake` + `serve --role worker` (two
processes, one Redis), with each process's CPU during the run.

`--bot-src DIR` runs our bot from another checkout (e.g. main before this change, unpacked with
`git archive`), with this checkout's venv: the BEFORE figures.

    flock /tmp/wizard-bench.lock .venv/bin/python bench/stages.py [--bot-src DIR] [--only burst,ack]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import redis.asyncio as aioredis  # noqa: E402

from bench import compare  # noqa: E402
from bench.compare import (  # noqa: E402
    ANSWER_MARK,
    CHANNEL,
    NaiveBot,
    OurBot,
    Slack,
    SlackSandbox,
    client_session,
    load,
    rate_events,
    run_events,
    send_at_rate,
    storm_events,
    summary,
    wait_idle,
)
from bot.logs import configure_logging  # noqa: E402
from bot.store.embedded import EmbeddedRedis  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic  # noqa: E402
from tests.fakes.signing import signed_headers, slash_body  # noqa: E402

ASK_CHANNEL = "C0BENCHASK"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live children (all their threads), from /proc."""
    total = 0
    for member in compare.process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / 100.0  # clock ticks (USER_HZ = 100)


class Bot(OurBot):
    """`wizard serve` from this checkout or from `--bot-src` (the same venv either way)."""

    def __init__(self, tmp: Path, redis_url: str, deadline_s: float, src: Path, **env: str):
        super().__init__(tmp, redis_url, 16, deadline_s)
        self.src = src
        self.extra = env

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                str(self.port)]  # fmt: skip

    def env(self, sandbox: SlackSandbox, llm: FakeAnthropic, channels: str) -> dict[str, str]:
        return {**super().env(sandbox, llm, channels), "PYTHONPATH": str(self.src), **self.extra}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class SplitBot(Bot):
    """`serve --role intake` and `serve --role worker` as two processes on the same Redis (README,
    "Intake and workers apart"): what the one-process figures would be without a shared GIL."""

    name = "wizard-split"

    def __init__(self, tmp: Path, redis_url: str, deadline_s: float, src: Path, **env: str):
        super().__init__(tmp, redis_url, deadline_s, src, **env)
        self.worker = _WorkerRole(tmp, redis_url, deadline_s, src, **env)
        self.cpu_at_start: tuple[float, float] = (0.0, 0.0)
        self.cpu_s: dict[str, float] = {}

    def command(self) -> list[str]:
        return [*super().command(), "--role", "intake"]

    async def start(self, sandbox: SlackSandbox, llm: FakeAnthropic, channels: str) -> int:
        port = await super().start(sandbox, llm, channels)  # flushes Redis first
        await self.worker.start(sandbox, llm, channels)  # then the worker makes its groups
        await asyncio.sleep(1.0)  # past the worker's start-up, as a running deployment would be
        self.cpu_at_start = (cpu_seconds(self.pid), cpu_seconds(self.worker.pid))
        return port

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.cpu_s = {
                "intake": round(cpu_seconds(self.pid) - self.cpu_at_start[0], 2),
                "worker": round(cpu_seconds(self.worker.pid) - self.cpu_at_start[1], 2),
            }
        await self.worker.stop()
        await super().stop()


class _WorkerRole(Bot):
    name = "wizard-worker"

    def command(self) -> list[str]:
        return [*super().command(), "--role", "worker"]

    async def start(self, sandbox: SlackSandbox, llm: FakeAnthropic, channels: str) -> int:
        return await compare.BotProcess.start(self, sandbox, llm, channels)  # no second flush


async def burst(bot: Bot | NaiveBot, *, count: int, rate: float, latency: float) -> dict[str, Any]:
    run = await run_events(bot, latency, rate_events(count, f"{bot.name}-burst"), rate, [])
    run["fallbacks_or_unanswered"] = run.pop("alerts_without_own_answer")
    return run


async def ack_run(bot: Bot | NaiveBot, *, count: int, rate: float, latency: float) -> dict:
    """Like `burst`, plus the bot process's CPU over the whole run."""
    before: dict[str, float] = {}
    original = bot.start

    async def start(*args: Any) -> int:
        port = await original(*args)
        before["cpu"] = cpu_seconds(bot.proc.pid) if bot.proc else 0.0
        return port

    bot.start = start  # type: ignore[method-assign]
    original_stop = bot.stop

    async def stop() -> None:
        if bot.proc is not None and bot.proc.poll() is None:
            before["used"] = cpu_seconds(bot.proc.pid) - before["cpu"]
        await original_stop()

    bot.stop = stop  # type: ignore[method-assign]
    run = await run_events(bot, latency, rate_events(count, f"{bot.name}-ack"), rate, [])
    run["fallbacks_or_unanswered"] = run.pop("alerts_without_own_answer")
    if "used" in before:
        run["bot_cpu_s"] = round(before["used"], 2)
        run["bot_cpu_ms_per_alert"] = round(before["used"] * 1000 / count, 2)
    return run


async def questions(bot: Bot, *, asked: int, alerts: int, latency: float) -> dict[str, Any]:
    """`asked` /wizard questions at once, then `alerts` new alerts: do the cards wait?"""
    async with SlackSandbox() as sandbox, FakeAnthropic() as llm:
        llm.delay(latency)
        port = await bot.start(sandbox, llm, CHANNEL)
        sent_at: dict[str, float] = {}
        try:
            async with client_session() as session:
                slack = Slack(session, port)
                url = f"http://127.0.0.1:{port}/slack/events"

                async def ask(n: int) -> int:
                    body = slash_body(
                        f"how do we fail over matching engine {n} before the open?",
                        user_id=f"U{n:05d}",
                        channel_id=ASK_CHANNEL,
                        response_url=sandbox.response_url(f"q{n}"),
                    )
                    headers = signed_headers(compare.SECRET, body)
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                    async with session.post(url, data=body.encode(), headers=headers) as r:
                        await r.read()
                        return r.status

                statuses = await asyncio.gather(*(ask(n) for n in range(asked)))
                deadline = time.monotonic() + 30
                while llm.calls < min(asked, 16) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # the questions reached the model first
                calls_when_alerts_sent = llm.calls

                async def alert(n: int) -> None:
                    message = compare.alert_message(f"ogw-q-{n}", n, f"svc-q-{n}")
                    posted = sandbox.inject_message(CHANNEL, message)
                    sent_at[posted["ts"]] = time.time()
                    await slack.deliver(posted, f"EvQ{n:05d}")

                await asyncio.gather(*(alert(n) for n in range(alerts)))
                await wait_idle(bot, slack, sandbox)
        finally:
            await bot.stop()
        result = compare.outcome(sandbox, [CHANNEL], sent_at)
        answers = [
            m
            # a streamed answer is a reply under the question's header message
            for m in sandbox.messages(ASK_CHANNEL, include_replies=True)
            if m.get("bot_id") == sandbox.bot_id and ANSWER_MARK in json.dumps(m)
        ]
        per_question: dict[str, int] = {}
        for m in answers:
            payload = ((m.get("metadata") or {}).get("event_payload") or {}).get("job", "")
            per_question[payload] = per_question.get(payload, 0) + 1
        via_response_url = sum(
            1 for bodies in sandbox.responses.values() for b in bodies if ANSWER_MARK in str(b)
        )
        return {
            "bot": bot.name,
            "questions": asked,
            "question_acks": {str(s): statuses.count(s) for s in set(statuses)},
            "model_calls_in_flight_when_alerts_sent": calls_when_alerts_sent,
            "alerts": alerts,
            "alert_first_threaded_message_ms": summary(result["first_ms"]),
            "alert_answer_ms": summary(result["final_ms"]),
            "questions_answered": len(per_question) + via_response_url,
            "questions_answered_twice": sum(1 for n in per_question.values() if n > 1),
            "llm_calls": llm.calls,
        }


async def counted_events(client: aioredis.Redis) -> int:
    """Alerts counted into incidents, read from Redis (the incident JSON's `events`)."""
    ids = await client.zrange("wizard:incidents:open", 0, -1)
    raws = await client.mget([f"wizard:incident:{i}" for i in ids]) if ids else []
    return sum(json.loads(r).get("events", 0) for r in raws if r)


async def storm(bot: Bot | NaiveBot, *, count: int, groups: int, rate: float, latency: float):
    """The storm, probing Redis (alerts counted) and Slack (cards final) while it runs."""
    events = storm_events(count, groups)
    per_group = count // groups
    final_text = f"{per_group} notifications"
    async with SlackSandbox() as sandbox, FakeAnthropic() as llm:
        llm.delay(latency)
        port = await bot.start(sandbox, llm, CHANNEL)
        marks: dict[str, float] = {}
        t0 = time.time()
        try:
            async with client_session() as session:
                slack = Slack(session, port)

                async def probe() -> None:
                    while True:
                        now = time.time()
                        if isinstance(bot, Bot) and "counted" not in marks:
                            if await counted_events(bot.redis) >= count:
                                marks["counted"] = now - t0
                        cards = [
                            m
                            for m in sandbox.messages(CHANNEL, include_replies=True)
                            if m.get("bot_id") == sandbox.bot_id and final_text in json.dumps(m)
                        ]
                        if "cards_final" not in marks and len(cards) >= groups:
                            marks["cards_final"] = now - t0
                        await asyncio.sleep(0.1)

                watcher = asyncio.create_task(probe())

                async def send(n: int) -> None:
                    channel, message = events[n]
                    posted = sandbox.inject_message(channel, message)
                    await slack.deliver(posted, f"EvS{n:07d}")

                tasks, send_s = await send_at_rate(count, rate, send)
                await asyncio.gather(*tasks)
                await wait_idle(bot, slack, sandbox)
                deadline = time.monotonic() + 60  # the coalesced card updates trail the jobs
                while "cards_final" not in marks and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                watcher.cancel()
        finally:
            await bot.stop()
        out = compare.outcome(sandbox, [CHANNEL], {})
        return {
            "bot": bot.name,
            "events": count,
            "groups": groups,
            "rate_per_s": rate,
            "send_seconds": round(send_s, 2),
            "ack_ms": summary(slack.acks),
            "retries_provoked": slack.retries,
            "llm_calls": llm.calls,
            "all_counted_in_redis_s": round(marks["counted"], 2) if "counted" in marks else None,
            "cards_final_in_slack_s": (
                round(marks["cards_final"], 2) if "cards_final" in marks else None
            ),
            "post_message": out["post_message"],
            "update": out["update"],
            "threads_with_bot_replies": out["threads_with_bot_replies"],
            **({"cpu_s_during_run": bot.cpu_s} if isinstance(bot, SplitBot) else {}),
        }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("ERROR")
    only = set(args.only.split(",")) if args.only else {"burst", "questions", "ack", "storm", "rss"}
    src = args.bot_src or REPO
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bot_src": str(src),
        "commit": compare.git("rev-parse", "--short", "HEAD") if src == REPO else args.label,
        "load_before": load(),
    }
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        server = EmbeddedRedis(tmp / "redis")
        await server.start()
        env = {"WIZARD_LLM_MAX_PER_HOUR": "1000000", "WIZARD_LLM_MAX_PER_USER_HOUR": "1000"}

        def ours(deadline_s: float) -> Bot:
            return Bot(tmp, server.admin_url, deadline_s, src, **env)

        def bots_for(deadline_s: float) -> list[Bot | NaiveBot]:
            return [ours(deadline_s)] + ([] if args.skip_naive else [NaiveBot(tmp)])

        try:
            if "burst" in only:
                result["burst"] = []
                for bot in bots_for(40.0):
                    run = await burst(bot, count=60, rate=10.0, latency=20.0)
                    result["burst"].append(run)
                    print(f"burst {bot.name}: {compare.brief(run)}", file=sys.stderr)
            if "questions" in only:
                run = await questions(ours(40.0), asked=24, alerts=5, latency=20.0)
                result["questions"] = run
                print(f"questions: {run}", file=sys.stderr)
            if "ack" in only:
                result["ack"] = []
                for bot in bots_for(10.0):
                    run = await ack_run(bot, count=600, rate=200.0, latency=2.0)
                    result["ack"].append(run)
                    cpu = run.get("bot_cpu_ms_per_alert")
                    print(
                        f"ack {bot.name}: {compare.brief(run)}, {cpu} ms CPU/alert", file=sys.stderr
                    )
            if "storm" in only:
                result["storm"] = []
                split = [SplitBot(tmp, server.admin_url, 10.0, src, **env)] if args.split else []
                for bot in bots_for(10.0) + split:
                    run = await storm(bot, count=1000, groups=20, rate=500.0, latency=2.0)
                    result["storm"].append(run)
                    print(f"storm {bot.name}: {run}", file=sys.stderr)
            if "rss" in only:
                run = await compare.rss_phase(ours(10.0), [1000, 4000, 7000, 10000], 100.0, 0.1)
                result["rss"] = run
                print(
                    f"rss: {run['points_kib']}, flat: {run['flat_within_10pct']}", file=sys.stderr
                )
        finally:
            await server.stop()
    result["load_after"] = load()
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    for name in only:  # which run, commit and load each scenario's figures come from
        result[f"{name}_run"] = {
            k: result[k]
            for k in ("started_at", "commit", "load_before", "load_after", "finished_at")
        }
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bot-src", type=lambda p: Path(p).resolve(), default=None, help="our bot from here"
    )
    parser.add_argument("--label", default="", help="what --bot-src is (e.g. main@0620d49)")
    parser.add_argument("--only", default="", help="burst,questions,ack,storm,rss")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument(
        "--split", action="store_true", help="storm also on --role intake + --role worker"
    )
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    outcome = asyncio.run(main(arguments))
    if arguments.out.exists():  # keep the scenarios this run did not measure
        outcome = {**json.loads(arguments.out.read_text()), **outcome}
    text = json.dumps(outcome, indent=2)
    sys.stdout.write(text + "\n")
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(text + "\n")
    print(f"wrote {arguments.out}", file=sys.stderr)
