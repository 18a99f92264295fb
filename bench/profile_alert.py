"""CPU and Redis commands of one alert (fast job + its analysis), profiled.

The bot's real wiring (`build_runtime`) against a real embedded Redis and the local Slack sandbox,
which runs in a child process so its CPU is not counted. N distinct alerts (each its own incident)
are handed to the fast-stage handler one after another, then the analyses they queued to the
analysis handler (before the stages, the alert job did both), under cProfile with a CPU clock.
No model is configured, so the analysis is the runbook answer. Prints JSON: CPU ms per alert,
per fast job and per analysis (process time ÷ N), Redis commands per alert (INFO commandstats,
those run inside scripts included) and round trips (requests the client sent: a pipeline or a
script is one), the top functions by own and by cumulative CPU time; then the same N alerts
again as new posts (repeats counted into their open incidents): CPU, commands, round trips.

    .venv/bin/python bench/profile_alert.py [--alerts 300] [--bot-src DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

SANDBOX = """
import asyncio, sys
from bot.devtools.slack import SlackSandbox

async def main():
    async with SlackSandbox() as sandbox:
        print("URL", sandbox.base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def sandbox_process() -> tuple[subprocess.Popen[str], str]:
    """The Slack sandbox of this checkout in a child process (its CPU is not counted), and its
    base URL; close its stdin to stop it."""
    sandbox = subprocess.Popen(
        [sys.executable, "-c", SANDBOX],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        text=True,
    )
    assert sandbox.stdout is not None
    line = ""
    while not line.startswith("URL "):
        line = sandbox.stdout.readline()
        if not line:
            raise RuntimeError("the Slack sandbox did not start")
    return sandbox, line.split()[1]


def alert_message(n: int) -> dict[str, Any]:
    """The Alertmanager post of bench/compare.py, each `n` its own alert and service."""
    instance, service = f"ogw-prof-{n}", f"svc-prof-{n}"
    return {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0ALERTMGR",
        "username": "Alertmanager",
        "text": "",
        "attachments": [
            {
                "color": "danger",
                "title": f"[FIRING:1] OrderGatewayLatencyHigh (order-gateway prod {instance})",
                "text": f"*Alert:* p99 latency {5 + n % 40}ms above 5ms on {instance} - "
                "`critical`\n*Details:*\n  • *alertname:* `OrderGatewayLatencyHigh`\n"
                f"  • *instance:* `{instance}`\n  • *service:* `{service}`\n"
                "  • *severity:* `critical`\n",
                "fallback": f"[FIRING:1] OrderGatewayLatencyHigh {instance}",
            }
        ],
    }


async def commandstats(client: Any) -> dict[str, int]:
    info = await client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from pydantic import AnyHttpUrl, SecretStr

    from bot.app import build_runtime
    from bot.logs import configure_logging
    from bot.settings import Settings
    from bot.store.embedded import EmbeddedRedis

    configure_logging("ERROR")
    sandbox, base_url = sandbox_process()
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        server = EmbeddedRedis(tmp / "redis")
        await server.start()
        try:
            settings = Settings(
                SLACK_BOT_TOKEN=SecretStr("xoxb-profile"),
                SLACK_SIGNING_SECRET=SecretStr("profile-secret"),
                SLACK_API_URL=AnyHttpUrl(base_url),
                WIZARD_ALERT_CHANNELS="C0PROF",
                REDIS_URL=server.url,
                WIZARD_DATA_DIR=tmp / "data",
                WIZARD_LLM_MAX_PER_HOUR=1000000,
            )  # type: ignore[call-arg]
            runtime = await build_runtime(settings, role="intake")  # no workers: we drive it
            handler = runtime.processor
            analyst = getattr(runtime, "analyst", None)  # None before the analysis stage
            jobs = [_job(n, alert_message(n)) for n in range(args.alerts + args.warmup)]
            for job in jobs[: args.warmup]:  # first calls load caches, templates, plugins
                await handler(job)
            await _analyses(runtime, analyst)
            client = runtime.redis
            stats_before = await commandstats(client)
            half = args.alerts // 2
            cpu = time.process_time
            started = cpu()
            for job in jobs[args.warmup : args.warmup + half]:
                await handler(job)
            fast_ms = (cpu() - started) * 1000 / half
            started = cpu()
            await _analyses(runtime, analyst)
            analysis_ms = (cpu() - started) * 1000 / half
            profiler = cProfile.Profile(cpu)  # CPU time, not wall time (waits are not costs)
            profiled = jobs[args.warmup + half :]
            started = cpu()
            profiler.enable()
            for job in profiled:
                await handler(job)
            await _analyses(runtime, analyst)
            profiler.disable()
            profiled_ms = (cpu() - started) * 1000 / len(profiled)
            stats_after = await commandstats(client)
            # the same alerts again (new posts, same fingerprints): repeats of open incidents
            repeats = [
                _job(n + 1_000_000, alert_message(n))
                for n in range(args.warmup, args.warmup + args.alerts)
            ]
            started = cpu()
            for job in repeats[:half]:
                await handler(job)
            await _analyses(runtime, analyst)
            repeat_ms = (cpu() - started) * 1000 / half
            repeat_profiler = cProfile.Profile(cpu)
            repeat_profiler.enable()
            for job in repeats[half:]:
                await handler(job)
            await _analyses(runtime, analyst)
            repeat_profiler.disable()
            stats_repeat = await commandstats(client)
            await runtime.stop()
        finally:
            await server.stop()
            if sandbox.stdin:
                sandbox.stdin.close()
            sandbox.wait(10)
    calls = {k: stats_after.get(k, 0) - stats_before.get(k, 0) for k in stats_after}
    calls = {k: v for k, v in calls.items() if v > 0 and k not in ("info",)}
    per_job = {k: round(v / args.alerts, 2) for k, v in sorted(calls.items(), key=lambda i: -i[1])}
    again = {k: stats_repeat.get(k, 0) - stats_after.get(k, 0) for k in stats_repeat}
    again = {k: v for k, v in again.items() if v > 0 and k not in ("info",)}
    profiled_n = args.alerts - half
    return {
        "alerts": args.alerts,
        "bot_src": str(args.bot_src),
        "cpu_ms_per_alert": round(fast_ms + analysis_ms, 2),
        "cpu_ms_per_fast_job": round(fast_ms, 2),
        "cpu_ms_per_analysis": round(analysis_ms, 2),
        "cpu_ms_per_alert_under_profiler": round(profiled_ms, 2),
        "redis_commands_per_job": round(sum(calls.values()) / args.alerts, 1),
        "redis_commands_per_job_by_name": per_job,
        "redis_round_trips_per_job": round(_round_trips(profiler) / profiled_n, 1),
        "repeat_cpu_ms_per_alert": round(repeat_ms, 2),
        "repeat_redis_commands_per_alert": round(sum(again.values()) / args.alerts, 1),
        "repeat_redis_commands_by_name": {
            k: round(v / args.alerts, 2) for k, v in sorted(again.items(), key=lambda i: -i[1])
        },
        "repeat_redis_round_trips_per_alert": round(_round_trips(repeat_profiler) / profiled_n, 1),
        "repeat_top_tottime": _top(repeat_profiler, "tottime", args.top),
        "top_tottime": _top(profiler, "tottime", args.top),
        "top_cumulative": _top(profiler, "cumulative", args.top),
        "loadavg": os.getloadavg(),
    }


async def _analyses(runtime: Any, analyst: Any) -> None:
    """Run the analyses the fast jobs queued (the runbook answer: no model is configured)."""
    if analyst is None:
        return  # before the stages, the alert job did its analysis itself
    from bot.pipeline.worker import ANALYSIS

    client = runtime.redis
    last = runtime.__dict__.setdefault("_profiled_upto", "0-0")
    entries = await client.xrange(ANALYSIS.stream, min=f"({last}", max="+")
    for entry_id, fields in entries:
        await analyst(ANALYSIS.parse(fields["job"]))
        runtime.__dict__["_profiled_upto"] = entry_id


def _job(n: int, message: dict[str, Any]) -> Any:
    """The fast job the listener would queue (both job shapes: before and after the union)."""
    from bot.pipeline import jobs

    ts = f"{1_800_000_000 + n}.000100"
    message = {**message, "ts": ts, "channel": "C0PROF"}
    fields = {"id": f"msg:C0PROF:{ts}", "channel": "C0PROF", "ts": ts, "message": message}
    if hasattr(jobs, "AlertJob"):
        return jobs.AlertJob(**fields)
    return jobs.Job(kind="alert", **fields)  # type: ignore[attr-defined]


def _round_trips(profiler: cProfile.Profile) -> int:
    """Requests the client wrote to Redis (a pipeline or a script is one): redis-py packs a
    single command with `pack_command` and a pipeline with one `pack_commands` (which packs
    each of its commands with `pack_command`), so trips = pack_commands + the other callers'
    pack_command calls."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    trips = 0
    for (path, _, name), (_, calls, _, _, callers) in stats.items():
        if "redis" not in path:
            continue
        if name == "pack_commands":
            trips += calls
        elif name == "pack_command":
            trips += sum(c[1] for (_, _, caller), c in callers.items() if caller != "pack_commands")
    return trips


def _top(profiler: cProfile.Profile, key: str, count: int) -> list[str]:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(key).print_stats(count)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    return [line for line in lines[start : start + count + 1] if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--bot-src", type=lambda p: Path(p).resolve(), default=REPO)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(args.bot_src))
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
