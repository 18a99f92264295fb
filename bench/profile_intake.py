"""CPU of the ack path (one signed event: HTTP → Bolt → listener → door → dedup + XADD → ack).

The intake as `wizard serve` runs it (`build_runtime(role="intake")` and its HTTP server) against
a real embedded Redis, in this process under cProfile with a CPU clock; Slack's side runs in a
child process (bench/compare.py's signed deliveries of the storm's posts), so its CPU is not
counted. Prints JSON: CPU ms per event (process time ÷ events, warm-up excluded), the ack
latencies the sender saw, the top functions by own and by cumulative CPU time.

The storm target (ack p99 ≤ 100 ms at 500 events/s on two cores shared with the workers, the
sender and the fakes) is a CPU budget: this is where the intake's share is read.

    .venv/bin/python bench/profile_intake.py [--events 2000] [--rate 500] [--bot-src DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

SENDER = """
import asyncio, json, os, sys
from bench import compare
from bench.compare import Slack, client_session, send_at_rate, storm_events, summary

async def main(port, count, rate, offset):
    compare.SECRET = os.environ["PROFILE_SIGNING_SECRET"]
    events = storm_events(count, 20)
    async with client_session() as session:
        slack = Slack(session, port)

        async def send(n):
            channel, message = events[n]
            ts = f"{1_800_000_000 + offset + n}.000100"
            await slack.deliver({**message, "channel": channel, "ts": ts}, f"EvP{offset + n:08d}")

        tasks, _ = await send_at_rate(count, rate, send)
        await asyncio.gather(*tasks)
    print(json.dumps({"ack_ms": summary(slack.acks), "statuses": dict(slack.statuses)}))

asyncio.run(main(*[int(a) if a.isdigit() else float(a) for a in sys.argv[1:]]))
"""


async def _send(port: int, count: int, rate: float, offset: int, secret: str) -> dict[str, Any]:
    """Slack's deliveries from a child process; returns what it measured."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SENDER,
        str(port),
        str(count),
        str(rate),
        str(offset),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO), "PROFILE_SIGNING_SECRET": secret},
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"sender exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def _top(profiler: cProfile.Profile, key: str, count: int) -> list[str]:
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats(key).print_stats(count)
    lines = [line.rstrip() for line in stream.getvalue().splitlines()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return [line for line in lines[start : start + count + 1] if line]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from pydantic import AnyHttpUrl, SecretStr

    from bench.compare import CHANNEL, SECRET
    from bench.profile_alert import sandbox_process
    from bot.app import build_runtime
    from bot.logs import configure_logging
    from bot.settings import Settings
    from bot.store.embedded import EmbeddedRedis

    configure_logging("INFO")  # as serve logs: every enqueue is a JSON line (to /dev/null here)
    sandbox, slack_url = sandbox_process()  # Bolt's auth.test, once
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        server = EmbeddedRedis(tmp / "redis")
        await server.start()
        try:
            settings = Settings(
                SLACK_BOT_TOKEN=SecretStr("xoxb-profile"),
                SLACK_SIGNING_SECRET=SecretStr(SECRET),
                SLACK_API_URL=AnyHttpUrl(slack_url),
                WIZARD_ALERT_CHANNELS=CHANNEL,
                REDIS_URL=server.url,
                WIZARD_DATA_DIR=tmp / "data",
            )  # type: ignore[call-arg]
            runtime = await build_runtime(settings, role="intake")
            from bot.pipeline.intake_process import _warm

            _warm()
            port = await runtime.start_http(host="127.0.0.1", port=0)
            await _send(port, args.warmup, args.rate, 0, SECRET)
            cpu = time.process_time
            profiler = cProfile.Profile(cpu)
            started = cpu()
            if args.profile:
                profiler.enable()
            sent = await _send(port, args.events, args.rate, args.warmup, SECRET)
            profiler.disable()
            cpu_ms = (cpu() - started) * 1000 / args.events
            queued = await runtime.redis.xlen("wizard:jobs")
            await runtime.stop(drain_s=0)
        finally:
            await server.stop()
            if sandbox.stdin:
                sandbox.stdin.close()
            sandbox.wait(10)
    result: dict[str, Any] = {
        "events": args.events,
        "rate_per_s": args.rate,
        "bot_src": str(args.bot_src),
        "profiled": args.profile,
        "cpu_ms_per_event": round(cpu_ms, 3),
        "queued_in_stream": queued,
        "sender": sent,
        "loadavg": os.getloadavg(),
    }
    if args.profile:
        result["top_tottime"] = _top(profiler, "tottime", args.top)
        result["top_cumulative"] = _top(profiler, "cumulative", args.top)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--bot-src", type=lambda p: Path(p).resolve(), default=REPO)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(args.bot_src))
    sys.path.insert(1, str(REPO))
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
