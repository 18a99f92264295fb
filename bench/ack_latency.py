"""HTTP ack latency and time to first threaded message, for signed alert events.

Starts a real embedded Redis, the local Slack sandbox and the bot's HTTP server on loopback, sends
N signed `message` events (alert posts) at a fixed rate, and prints ack latency p50/p95/p99/max,
the time from sending an alert to its first threaded message (the placeholder) and to the final
answer (the runbook fallback here, so it measures the bot, not a model), and the drain time.

    .venv/bin/python bench/ack_latency.py --events 200 --rate 200 [--out bench/results/x.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import AnyHttpUrl, SecretStr
from slack_sdk.signature import SignatureVerifier

from bot.app import build_runtime
from bot.devtools.slack import SlackSandbox
from bot.logs import configure_logging
from bot.settings import Settings
from bot.store import keys
from bot.store.embedded import EmbeddedRedis

CHANNEL = "C0BENCH"


def alert_message(n: int) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0ALERTMGR",
        "username": "Alertmanager",
        "text": "",
        "attachments": [
            {
                "color": "danger",
                "title": f"[FIRING:1] OrderGatewayLatencyHigh{n % 20} (order-gateway prod)",
                "text": f"*Alert:* p99 latency above 5ms on ogw-{n % 7} - `critical`\n"
                "*Details:*\n  • *alertname:* `OrderGatewayLatencyHigh`\n"
                "  • *service:* `order-gateway`\n  • *severity:* `critical`\n",
                "fallback": f"[FIRING:1] OrderGatewayLatencyHigh{n % 20}",
            }
        ],
    }


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 2)


async def run(events: int, rate: float, workers: int) -> dict[str, Any]:
    configure_logging("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        await server.start()
        sandbox = SlackSandbox()
        await sandbox.start()
        secret = secrets.token_hex(16)
        settings = Settings(
            SLACK_BOT_TOKEN=SecretStr("xoxb-bench"),
            SLACK_SIGNING_SECRET=SecretStr(secret),
            SLACK_API_URL=AnyHttpUrl(sandbox.base_url),
            WIZARD_ALERT_CHANNELS=CHANNEL,
            REDIS_URL=server.url,
            WIZARD_DATA_DIR=Path(tmp),
            WIZARD_WORKERS=workers,
        )
        runtime = await build_runtime(settings)
        port = await runtime.start_http("127.0.0.1", 0)
        verifier = SignatureVerifier(secret)
        acks: list[float] = []
        sent_at: dict[str, float] = {}
        statuses: dict[int, int] = {}
        try:
            async with aiohttp.ClientSession() as session:

                async def send(n: int) -> None:
                    message = sandbox.inject_message(CHANNEL, alert_message(n))
                    body = json.dumps(
                        {
                            "type": "event_callback",
                            "team_id": "T0BENCH",
                            "api_app_id": "A0BENCH",
                            "event_id": f"EvB{n:06d}",
                            "event_time": int(time.time()),
                            "event": message,
                        }
                    )
                    ts = str(int(time.time()))
                    headers = {
                        "Content-Type": "application/json",
                        "X-Slack-Request-Timestamp": ts,
                        "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
                    }
                    sent_at[message["ts"]] = time.time()
                    started = time.perf_counter()
                    async with session.post(
                        f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
                    ) as response:
                        await response.read()
                        acks.append((time.perf_counter() - started) * 1000)
                        statuses[response.status] = statuses.get(response.status, 0) + 1

                tasks = []
                t0 = time.perf_counter()
                for n in range(events):
                    delay = t0 + n / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(send(n)))
                await asyncio.gather(*tasks)
                send_s = time.perf_counter() - t0
                # wait for the queue to drain, without polling Slack state on the hot loop
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    groups = await runtime.redis.xinfo_groups(keys.JOBS_STREAM)
                    group = next(g for g in groups if g["name"] == keys.JOBS_GROUP)
                    if group["pending"] == 0 and not group.get("lag"):
                        break
                    await asyncio.sleep(0.2)
                drain_s = time.perf_counter() - t0
        finally:
            await runtime.stop()
            await sandbox.stop()
            await server.stop()

    # first threaded message = the placeholder's chat.postMessage; final = last chat.update of it
    first: dict[str, float] = {}
    for call in sandbox.calls:
        thread = call.params.get("thread_ts")
        if call.method == "chat.postMessage" and thread in sent_at and thread not in first:
            first[thread] = call.at
    reply_of: dict[str, str] = {}
    for thread in first:
        replies = [m for m in sandbox.replies(CHANNEL, thread) if m["ts"] != thread]
        if replies:
            reply_of[replies[0]["ts"]] = thread
    final: dict[str, float] = {}
    for call in sandbox.calls:
        if call.method == "chat.update" and call.params.get("ts") in reply_of:
            final[reply_of[call.params["ts"]]] = call.at
    first_ms = [(first[t] - sent_at[t]) * 1000 for t in first]
    final_ms = [(final[t] - sent_at[t]) * 1000 for t in final]
    threads_with_two = sum(
        1 for t in sent_at if len([m for m in sandbox.replies(CHANNEL, t) if m["ts"] != t]) > 1
    )
    return {
        "events": events,
        "rate_per_s": rate,
        "workers": workers,
        "send_seconds": round(send_s, 3),
        "drain_seconds": round(drain_s, 3),
        "http_status": statuses,
        "ack_ms": {
            "p50": pct(acks, 50),
            "p95": pct(acks, 95),
            "p99": pct(acks, 99),
            "max": round(max(acks), 2),
            "mean": round(statistics.mean(acks), 2),
        },
        "first_threaded_message_ms": {
            "count": len(first_ms),
            "p50": pct(first_ms, 50),
            "p95": pct(first_ms, 95),
        },
        "final_answer_ms": {
            "count": len(final_ms),
            "p50": pct(final_ms, 50),
            "p95": pct(final_ms, 95),
        },
        "threads_with_more_than_one_reply": threads_with_two,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.rate, args.workers))
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
