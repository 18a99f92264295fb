"""HTTP ack latency and time to first threaded message, for signed alert events.

Starts a real embedded Redis, the local Slack sandbox and the bot's HTTP server on loopback, sends
N signed `message` events (alert posts) at a fixed rate, and prints ack latency p50/p95/p99/max
and the time from sending an alert to its first threaded message (the placeholder) and to the
final answer (runbook fallback here, so it measures the bot, not a model).

    .venv/bin/python bench/ack_latency.py --events 200 --rate 200
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

import aiohttp
from pydantic import AnyHttpUrl, SecretStr
from slack_sdk.signature import SignatureVerifier

from bot.app import build_runtime
from bot.logs import configure_logging
from bot.settings import Settings
from bot.slack.sandbox import SlackSandbox
from bot.store.embedded import EmbeddedRedis

CHANNEL = "C0BENCH"


def alert_message(n: int) -> dict:
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


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(events: int, rate: float) -> dict:
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
                    sent_at[message["ts"]] = time.perf_counter()
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
                    target = t0 + n / rate
                    delay = target - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(send(n)))
                await asyncio.gather(*tasks)
                send_s = time.perf_counter() - t0

                first: dict[str, float] = {}
                final: dict[str, float] = {}
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and len(final) < events:
                    for call in sandbox.calls:
                        params = call.params
                        thread = params.get("thread_ts")
                        if call.method == "chat.postMessage" and thread in sent_at:
                            first.setdefault(thread, call.at)
                    for thread in sent_at:
                        if thread in final:
                            continue
                        replies = [m for m in sandbox.replies(CHANNEL, thread) if m["ts"] != thread]
                        if replies and "Looking into" not in (replies[0].get("text") or ""):
                            final[thread] = time.perf_counter()
                    await asyncio.sleep(0.05)
        finally:
            await runtime.stop()
            await sandbox.stop()
            await server.stop()

    first_ms = [(first[t] - sent_at[t]) * 1000 for t in first]
    final_ms = [(final[t] - sent_at[t]) * 1000 for t in final]
    posts = [c for c in sandbox.calls if c.method == "chat.postMessage"]
    return {
        "events": events,
        "rate_per_s": rate,
        "send_seconds": round(send_s, 3),
        "http_status": statuses,
        "ack_ms": {
            "p50": round(pct(acks, 50), 2),
            "p95": round(pct(acks, 95), 2),
            "p99": round(pct(acks, 99), 2),
            "max": round(max(acks), 2),
            "mean": round(statistics.mean(acks), 2),
        },
        "first_threaded_message_ms": {
            "count": len(first_ms),
            "p50": round(pct(first_ms, 50), 1) if first_ms else None,
            "p95": round(pct(first_ms, 95), 1) if first_ms else None,
        },
        "final_answer_ms": {
            "count": len(final_ms),
            "p50": round(pct(final_ms, 50), 1) if final_ms else None,
            "p95": round(pct(final_ms, 95), 1) if final_ms else None,
        },
        "threaded_posts": len(posts),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    result = asyncio.run(main(args.events, args.rate))
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
