"""Our bot vs a naive Bolt bot, on the same fake Slack and the same fake LLM, in one run.

Everything runs on loopback: the local Slack sandbox (reached by the real slack-sdk), the fake
Anthropic server with a fixed latency (reached by the real anthropic SDK), and a real embedded
Redis for our bot. Signed `message` events are sent over HTTP the way Slack sends them, and
Slack's retry behaviour is emulated: an event not acked with 200 within 3 s is redelivered with
`X-Slack-Retry-Num` 1..3 (Slack's schedule "immediately, +1 min, +5 min" compressed to
0 s / 1 s / 5 s). Phases:

1. rates: for each bot and each rate, N alert posts with distinct fingerprints → ack latency,
   retries provoked, duplicate replies, alert → first threaded message, alert → final answer,
   drain time;
2. storm: 1000 Alertmanager-style posts over 20 fingerprints, fast → LLM calls, messages posted,
   threads, drain time;
3. prompt-cache prefix stability: share of LLM requests whose `system` bytes equal the first's;
4. RSS of our bot run as its own `wizard serve` process after 1k and 10k events.

    .venv/bin/python bench/compare.py [--quick] [--llm-latency 2] [--rates 50,200,500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.fakes` and `bench.baseline` live beside `bot`

import aiohttp  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from bot.devtools.slack import SlackSandbox  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.store import keys  # noqa: E402
from bot.store.embedded import EmbeddedRedis  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic  # noqa: E402
from tests.fakes.signing import event_body, signed_headers  # noqa: E402

CHANNEL = "C0BENCH"
SLACK_TIMEOUT_S = 3.0
RETRY_BACKOFF_S = (0.0, 1.0, 5.0)  # before retry 1, 2, 3 (Slack: ~0, 1 min, 5 min)
WRITES = ("chat.postMessage", "chat.update")
ANSWER_MARK = "fake model answer"  # FakeAnthropic's default answer says so in its summary
SECRET = secrets.token_hex(16)
LOG_DIR = Path(tempfile.gettempdir()) / "wizard-bench-logs"  # the bots' stderr, kept for reading
TOKEN = "xoxb-bench-token"


# --- payloads --------------------------------------------------------------------------------
def alert_message(instance: str, n: int, service: str = "order-gateway") -> dict[str, Any]:
    """An Alertmanager post (Slack receiver, custom template printing the labels); the alert's
    fingerprint is determined by `instance` and `service`, `n` only varies the text."""
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


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": round(max(values), 1),
        "mean": round(statistics.mean(values), 1),
    }


def load() -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return {"loadavg": [one, five, fifteen], "uptime": uptime.strip(), "cpus": os.cpu_count()}


# --- Slack's side: signed delivery with retries ----------------------------------------------
class Slack:
    """Delivers events to one bot as Slack does, counting acks, statuses and retries."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.acks: list[float] = []  # first deliveries, true latency (also past 3 s)
        self.retry_acks: list[float] = []
        self.statuses: Counter[int | str] = Counter()
        self.retries = 0
        self.gave_up = 0
        self.requests: list[asyncio.Task[int | str]] = []

    async def _post(self, body: str, retry: int) -> int | str:
        headers = signed_headers(SECRET, body)
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        started = time.perf_counter()
        try:
            async with self.session.post(self.url, data=body.encode(), headers=headers) as r:
                await r.read()
                status: int | str = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = type(exc).__name__
        (self.retry_acks if retry else self.acks).append((time.perf_counter() - started) * 1000)
        self.statuses[status] += 1
        return status

    async def deliver(self, event: dict[str, Any], event_id: str) -> None:
        body = event_body(event, event_id=event_id)
        for retry in range(4):
            task = asyncio.create_task(self._post(body, retry))
            self.requests.append(task)  # keeps running past Slack's timeout, like the bot's side
            done, _ = await asyncio.wait({task}, timeout=SLACK_TIMEOUT_S)
            if done and task.result() == 200:
                return
            if retry == 3:
                self.gave_up += 1
                return
            self.retries += 1
            await asyncio.sleep(RETRY_BACKOFF_S[retry])

    def inflight(self) -> int:
        return sum(1 for t in self.requests if not t.done())


async def send_at_rate(
    count: int, rate: float, send: Callable[[int], Awaitable[None]]
) -> tuple[list[asyncio.Task[None]], float]:
    tasks = []
    t0 = time.perf_counter()
    for n in range(count):
        delay = t0 + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n)))
    return tasks, time.perf_counter() - t0


# --- the two bots, each in its own process ------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants: a default `wizard serve` is two processes (its intake
    runs in a child), and both count."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            todo += [int(c) for c in children.read_text().split()]
    return out


def vm_rss_kib(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM summed over the process and its children."""
    out = {"VmRSS": 0, "VmHWM": 0}
    for member in process_tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in out:
                out[key] += int(value.split()[0])
    return out


class BotProcess:
    """A bot started as its own OS process, so its CPU is its own: on 2 cores the load
    generator, the Slack sandbox and the fake LLM (this process) get the other core."""

    name = "bot"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self, sandbox: SlackSandbox, llm: FakeAnthropic, channels: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.tmp)),
            "PYTHONPATH": str(REPO),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": sandbox.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-bench-not-real",
            "ANTHROPIC_BASE_URL": llm.base_url,
            "PORT": str(self.port),
        }

    async def start(self, sandbox: SlackSandbox, llm: FakeAnthropic, channels: str) -> int:
        self.port = free_port()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = (LOG_DIR / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
            self.command(),
            env=self.env(sandbox, llm, channels),
            cwd=self.tmp,  # no stray .env is read
            stdout=log,
            stderr=log,
        )
        log.close()
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await asyncio.sleep(0.3)  # past bind, let start-up finish
                return self.port
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start listening")

    def rss(self) -> dict[str, int]:
        assert self.proc is not None
        return vm_rss_kib(self.proc.pid)

    async def idle(self, slack: Slack) -> bool:
        return slack.inflight() == 0

    async def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        for _ in range(150):
            if self.proc.poll() is not None:
                return
            await asyncio.sleep(0.1)
        self.proc.kill()
        self.proc.wait()


class OurBot(BotProcess):
    """`wizard serve`: the real app wiring (build_runtime), LLM path through the real SDK."""

    name = "wizard"

    def __init__(self, tmp: Path, redis_url: str, workers: int, deadline_s: float) -> None:
        super().__init__(tmp)
        self.redis_url = redis_url
        self.workers = workers
        self.deadline_s = deadline_s
        self.redis = aioredis.from_url(redis_url, decode_responses=True)

    def command(self) -> list[str]:
        wizard = Path(sys.executable).parent / "wizard"
        cmd = [str(wizard)] if wizard.exists() else [sys.executable, "-m", "bot.cli"]
        return [*cmd, "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    def env(self, sandbox: SlackSandbox, llm: FakeAnthropic, channels: str) -> dict[str, str]:
        return {
            **super().env(sandbox, llm, channels),
            "WIZARD_ALERT_CHANNELS": channels,
            "REDIS_URL": self.redis_url,
            "WIZARD_DATA_DIR": str(self.tmp / "wizard-data"),
            "WIZARD_WORKERS": str(self.workers),
            "WIZARD_LLM_DEADLINE_S": str(self.deadline_s),
            "WIZARD_LOG_LEVEL": "WARNING",
            # thousands of distinct incidents here: lift the hourly LLM budget (default 60) so
            # the model path is measured; the per-incident budget stays at its default
            "WIZARD_LLM_MAX_PER_HOUR": "1000000",
        }

    async def start(self, sandbox: SlackSandbox, llm: FakeAnthropic, channels: str) -> int:
        await self.redis.flushall()
        return await super().start(sandbox, llm, channels)

    async def idle(self, slack: Slack) -> bool:
        return slack.inflight() == 0 and await queue_empty(self.redis)

    async def stop(self) -> None:
        await super().stop()
        await self.redis.aclose()


class NaiveBot(BotProcess):
    """`bench/baseline/naive_bot.py`: everything happens inside the request."""

    name = "naive"

    def command(self) -> list[str]:
        return [sys.executable, str(REPO / "bench" / "baseline" / "naive_bot.py")]


async def queue_empty(client: aioredis.Redis) -> bool:
    """Both stages drained: fast jobs and analyses (a bot from before the analysis stage has
    no analysis stream; that counts as empty)."""
    for stream, group_name in (
        (keys.JOBS_STREAM, keys.JOBS_GROUP),
        (keys.ANALYSIS_STREAM, keys.ANALYSIS_GROUP),
    ):
        try:
            groups = await client.xinfo_groups(stream)
        except aioredis.ResponseError:
            if stream == keys.JOBS_STREAM:
                return False
            continue
        group = next((g for g in groups if g["name"] == group_name), None)
        if group is None or group["pending"] or group.get("lag"):
            return False
    return True


def client_session() -> aiohttp.ClientSession:
    """Slack's side: unlimited connections; a request unanswered after 60 s counts as failed."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
    )


async def wait_idle(bot: OurBot | NaiveBot, slack: Slack, sandbox: SlackSandbox) -> None:
    """Until the bot has nothing left to do and Slack saw no write for a moment."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if await bot.idle(slack):
            writes = len(sandbox.calls)
            await asyncio.sleep(0.5)
            if len(sandbox.calls) == writes and await bot.idle(slack):
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{bot.name} did not drain")


# --- reading the outcome from the sandbox ----------------------------------------------------
def _has_answer(value: Any) -> bool:
    return ANSWER_MARK in json.dumps(value)


def _is_plan(message: dict[str, Any]) -> bool:
    """Our bot posts an answer as a first screen plus its full plan (slot `plan:<slot>` in the
    message metadata); the plan repeats the summary, so it must not count as a second answer."""
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return str(payload.get("slot", "")).startswith("plan:")


def outcome(sandbox: SlackSandbox, channels: list[str], sent_at: dict[str, float]) -> dict:
    """Per alert thread: first threaded message, first write carrying the model's answer, bot
    messages holding an answer (more than one = a duplicate reply); plus totals.

    The answer is recognised by the fake model's own words (`ANSWER_MARK`, in its summary), so a
    summary card or placeholder in the same thread is not mistaken for a second answer."""
    reply_thread: dict[str, str] = {}
    answers: Counter[str] = Counter()
    bot_threads: set[str] = set()
    other_texts: dict[str, str] = {}
    top_level_bot_posts = 0
    for channel in channels:
        for m in sandbox.messages(channel, include_replies=True):
            thread = m.get("thread_ts")
            is_bot = m.get("bot_id") == sandbox.bot_id
            if thread and thread != m["ts"]:
                reply_thread[m["ts"]] = thread
                if is_bot:
                    bot_threads.add(thread)
                    if _is_plan(m):
                        continue  # the answer's full plan: the same answer, its second message
                    if _has_answer([m.get("text"), m.get("blocks"), m.get("attachments")]):
                        answers[thread] += 1
                    else:
                        other_texts.setdefault(thread, str(m.get("text") or "")[:160])
            elif is_bot:
                top_level_bot_posts += 1
    first: dict[str, float] = {}
    final: dict[str, float] = {}
    counts: Counter[str] = Counter()
    for call in sandbox.calls:
        if call.method not in WRITES:
            continue
        counts[call.method] += 1
        if call.method == "chat.postMessage":
            thread = call.params.get("thread_ts")
            if thread:
                first.setdefault(thread, call.at)
        else:
            thread = reply_thread.get(str(call.params.get("ts")))
        if thread and thread not in final and _has_answer(call.params):
            final[thread] = call.at
    writes = [c.at for c in sandbox.calls if c.method in WRITES]
    return {
        "first_ms": [(first[t] - sent_at[t]) * 1000 for t in sent_at if t in first],
        "final_ms": [(final[t] - sent_at[t]) * 1000 for t in sent_at if t in final],
        "alerts_without_own_answer": sum(1 for t in sent_at if t not in final),
        "duplicate_reply_threads": sum(1 for t in answers if answers[t] > 1),
        "extra_answers": sum(max(0, n - 1) for n in answers.values()),
        "threads_with_bot_replies": len(bot_threads),
        "threads_with_answer": len(answers),
        "threads_without_answer_sample": [
            text for thread, text in other_texts.items() if thread not in answers
        ][:3],
        "top_level_bot_posts": top_level_bot_posts,
        "post_message": counts["chat.postMessage"],
        "update": counts["chat.update"],
        "last_write_at": max(writes) if writes else None,
    }


def system_bytes(request: dict[str, Any]) -> bytes:
    """The request's cached prefix as sent: tools + system, serialized in the order received."""
    body = request["body"]
    return json.dumps([body.get("tools"), body.get("system")]).encode()


# --- scenarios -------------------------------------------------------------------------------
async def run_events(
    bot: OurBot | NaiveBot,
    llm_latency: float,
    events: list[tuple[str, dict[str, Any]]],
    rate: float,
    prompts: list[bytes],
) -> dict[str, Any]:
    """Send `events` (channel, message) at `rate`/s to a fresh bot; measure until it drains."""
    channels = sorted({c for c, _ in events})
    async with SlackSandbox() as sandbox, FakeAnthropic() as llm:
        llm.delay(llm_latency)
        port = await bot.start(sandbox, llm, ",".join(channels))
        sent_at: dict[str, float] = {}
        try:
            async with client_session() as session:
                slack = Slack(session, port)
                tag = secrets.token_hex(3)

                async def send(n: int) -> None:
                    channel, message = events[n]
                    posted = sandbox.inject_message(channel, message)
                    sent_at[posted["ts"]] = time.time()
                    await slack.deliver(posted, f"Ev{tag}{n:07d}")

                t0 = time.time()
                tasks, send_s = await send_at_rate(len(events), rate, send)
                await asyncio.gather(*tasks)
                await wait_idle(bot, slack, sandbox)
                await asyncio.gather(*slack.requests)
                rss = bot.rss()
        finally:
            await bot.stop()
        result = outcome(sandbox, channels, sent_at)
        prompts += [system_bytes(r) for r in llm.requests]
        last = result.pop("last_write_at")
        first_ms, final_ms = result.pop("first_ms"), result.pop("final_ms")
        return {
            "bot": bot.name,
            "events": len(events),
            "rate_per_s": rate,
            "send_seconds": round(send_s, 2),
            "drain_seconds": round(last - t0, 2) if last else None,
            "ack_ms": summary(slack.acks),
            "retry_ack_ms": summary(slack.retry_acks),
            "http_status": {str(k): v for k, v in slack.statuses.items()},
            "retries_provoked": slack.retries,
            "events_given_up_by_slack": slack.gave_up,
            "first_threaded_message_ms": summary(first_ms),
            "final_answer_ms": summary(final_ms),
            "llm_calls": llm.calls,
            **result,
            "bot_rss_kib": rss,
        }


def rate_events(count: int, label: str) -> list[tuple[str, dict[str, Any]]]:
    """`count` alerts, each its own fingerprint and service: each is its own incident, whether
    the bot groups by fingerprint or by service."""
    return [
        (CHANNEL, alert_message(f"ogw-{label}-{n}", n, f"svc-{label}-{n}")) for n in range(count)
    ]


def storm_events(count: int, fingerprints: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` posts cycling over `fingerprints` alerts (the same alert re-posted, as
    Alertmanager's repeat_interval or a flapping rule does)."""
    return [
        (CHANNEL, alert_message(f"ogw-storm-{n % fingerprints}", n, f"svc-{n % fingerprints}"))
        for n in range(count)
    ]


# --- the intake path alone ---------------------------------------------------------------------
async def intake_phase(bot: OurBot, rates: list[float], count: int) -> list[dict[str, Any]]:
    """Ack latency of `wizard serve` when its workers take no CPU (one worker, stuck on an LLM
    that never answers): what the HTTP → Bolt → dedup + XADD path costs by itself, apart from
    the job processing that shares its event loop in the other phases."""
    out = []
    async with SlackSandbox() as sandbox, FakeAnthropic() as llm:
        llm.hang()
        port = await bot.start(sandbox, llm, CHANNEL)
        try:
            async with client_session() as session:
                slack = Slack(session, port)
                offset = 0
                for rate in [50.0, *rates]:  # the first pass warms the process up

                    async def send(n: int, base: int = offset) -> None:
                        i = base + n
                        message = alert_message(f"ogw-intake-{i}", i, f"svc-intake-{i}")
                        posted = sandbox.inject_message(CHANNEL, message)
                        await slack.deliver(posted, f"EvIN{i:07d}")

                    slack.acks.clear()
                    tasks, _ = await send_at_rate(count, rate, send)
                    await asyncio.gather(*tasks)
                    offset += count
                    if offset > count:
                        out.append(
                            {"rate_per_s": rate, "events": count, "ack_ms": summary(slack.acks)}
                        )
                        print(f"intake only {rate}/s: {out[-1]['ack_ms']}", file=sys.stderr)
        finally:
            llm.reset()
            await bot.stop()
    return out


# --- RSS of `wizard serve` -------------------------------------------------------------------
async def rss_phase(
    bot: OurBot, checkpoints: list[int], rate: float, llm_latency: float
) -> dict[str, Any]:
    """Our bot in its own process; send events in batches, drain, read its VmRSS each time."""
    channels = [f"C0RSS{i:03d}" for i in range(50)]  # the sandbox scans a channel per update
    async with SlackSandbox() as sandbox, FakeAnthropic() as llm:
        llm.delay(llm_latency)
        port = await bot.start(sandbox, llm, ",".join(channels))
        points: list[dict[str, Any]] = [{"events": 0, **bot.rss()}]
        try:
            async with client_session() as session:
                slack = Slack(session, port)
                sent = 0
                t0 = time.perf_counter()
                for target in checkpoints:

                    async def send(n: int, base: int = sent) -> None:
                        i = base + n
                        message = alert_message(f"ogw-rss-{i}", i, f"svc-rss-{i}")
                        posted = sandbox.inject_message(channels[i % len(channels)], message)
                        await slack.deliver(posted, f"EvRSS{i:07d}")

                    tasks, _ = await send_at_rate(target - sent, rate, send)
                    await asyncio.gather(*tasks)
                    while not await bot.idle(slack):
                        await asyncio.sleep(0.5)
                    sent = target
                    elapsed = round(time.perf_counter() - t0, 1)
                    points.append({"events": target, "elapsed_s": elapsed, **bot.rss()})
                    print(f"  rss after {target} events: {points[-1]}", file=sys.stderr)
        finally:
            await bot.stop()
        finals = sum(1 for c in sandbox.calls if c.method == "chat.update")
    rss = {p["events"]: p["VmRSS"] for p in points}
    first, last = checkpoints[0], checkpoints[-1]
    growth = (rss[last] - rss[first]) / rss[first] * 100
    return {
        "llm_latency_s": llm_latency,
        "rate_per_s": rate,
        "workers": bot.workers,
        "points_kib": points,
        "chat_update_calls": finals,
        "llm_calls": llm.calls,
        "ack_ms": summary(slack.acks),
        "retries_provoked": slack.retries,
        f"growth_{first}_to_{last}_pct": round(growth, 1),
        "flat_within_10pct": abs(growth) <= 10,
    }


# --- main ------------------------------------------------------------------------------------
def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    ).stdout.strip()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("ERROR")
    quick = args.quick
    events = args.events or (100 if quick else 200)
    storm_count = args.storm_events or (200 if quick else 1000)
    checkpoints = args.rss_events or ([200, 1000] if quick else [1000, 10000])
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "commit_subject": git("log", "-1", "--format=%s"),
        "uncommitted_bot_changes": git("status", "--porcelain", "bot"),
        "quick": quick,
        "llm_latency_s": args.llm_latency,
        "our_workers": args.workers,
        "slack_retry_emulation": {
            "ack_timeout_s": SLACK_TIMEOUT_S,
            "backoff_s": list(RETRY_BACKOFF_S),
        },
        "load_before": load(),
    }
    deadline_s = max(10.0, args.llm_latency * 4)
    prompts: dict[str, list[bytes]] = {"wizard": [], "naive": []}
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        server = EmbeddedRedis(tmp / "redis")
        await server.start()
        try:

            def bots() -> list[OurBot | NaiveBot]:
                return [OurBot(tmp, server.admin_url, args.workers, deadline_s), NaiveBot(tmp)]

            result["rates"] = []
            for rate in [] if args.skip_rates else args.rates:
                for bot in bots():
                    label = f"{bot.name}-{int(rate)}"
                    run = await run_events(
                        bot, args.llm_latency, rate_events(events, label), rate, prompts[bot.name]
                    )
                    result["rates"].append(run)
                    print(f"{label}: {brief(run)}", file=sys.stderr)
            result["storm"] = []
            for bot in [] if args.skip_storm else bots():
                run = await run_events(
                    bot,
                    args.llm_latency,
                    storm_events(storm_count, args.storm_fingerprints),
                    args.storm_rate,
                    prompts[bot.name],
                )
                run["fingerprints"] = args.storm_fingerprints
                result["storm"].append(run)
                print(f"storm {bot.name}: {brief(run)}", file=sys.stderr)
            result["prompt_cache_prefix"] = {
                name: {
                    "llm_requests": len(sent),
                    "identical_to_first": sum(1 for p in sent if sent and p == sent[0]),
                    "share": (
                        round(sum(1 for p in sent if p == sent[0]) / len(sent), 4) if sent else None
                    ),
                    "prefix_bytes": len(sent[0]) if sent else None,
                }
                for name, sent in prompts.items()
            }
            if not args.skip_intake:
                result["intake_only"] = await intake_phase(
                    OurBot(tmp, server.admin_url, 1, deadline_s), args.rates, events
                )
            if not args.skip_rss:
                result["rss"] = await rss_phase(
                    OurBot(tmp, server.admin_url, args.workers, deadline_s),
                    checkpoints,
                    args.rss_rate,
                    args.rss_llm_latency,
                )
        finally:
            await server.stop()
    result["load_after"] = load()
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def brief(run: dict[str, Any]) -> str:
    return (
        f"ack p50/p99 {run['ack_ms'].get('p50')}/{run['ack_ms'].get('p99')} ms, "
        f"retries {run['retries_provoked']}, dup {run['duplicate_reply_threads']}, "
        f"first p95 {run['first_threaded_message_ms'].get('p95')} ms, "
        f"final p95 {run['final_answer_ms'].get('p95')} ms, llm {run['llm_calls']}, "
        f"posts {run['post_message']}, updates {run['update']}, drain {run['drain_seconds']} s"
    )


def table(result: dict[str, Any]) -> str:
    """The side-by-side Markdown tables for bench/README.md."""

    def ms(value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"

    lines = [
        "| bot | rate | ack p50 / p95 / p99 / max | retries provoked | dup reply threads "
        "| first threaded msg p50 / p95 | final answer p50 / p95 | drain | LLM calls |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in result.get("rates", []):
        a, f, d = run["ack_ms"], run["first_threaded_message_ms"], run["final_answer_ms"]
        lines.append(
            f"| {run['bot']} | {run['rate_per_s']:.0f}/s × {run['events']} "
            f"| {ms(a.get('p50'))} / {ms(a.get('p95'))} / {ms(a.get('p99'))} / {ms(a.get('max'))} "
            f"| {run['retries_provoked']} | {run['duplicate_reply_threads']} "
            f"| {ms(f.get('p50'))} / {ms(f.get('p95'))} | {ms(d.get('p50'))} / {ms(d.get('p95'))} "
            f"| {run['drain_seconds']} s | {run['llm_calls']} |"
        )
    if result.get("storm"):
        lines += [
            "",
            "| storm bot | events / fingerprints | LLM calls | postMessage | update "
            "| threads | top-level posts | retries provoked | dup reply threads | drain |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for run in result["storm"]:
            lines.append(
                f"| {run['bot']} | {run['events']} / {run['fingerprints']} | {run['llm_calls']} "
                f"| {run['post_message']} | {run['update']} | {run['threads_with_bot_replies']} "
                f"| {run['top_level_bot_posts']} | {run['retries_provoked']} "
                f"| {run['duplicate_reply_threads']} | {run['drain_seconds']} s |"
            )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-latency", type=float, default=2.0, help="fake LLM delay, s")
    parser.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0, 200.0, 500.0]
    )
    parser.add_argument("--events", type=int, default=None, help="per rate (400; quick 100)")
    parser.add_argument("--workers", type=int, default=16, help="our bot's WIZARD_WORKERS")
    parser.add_argument("--storm-events", type=int, default=None, help="1000 (quick 200)")
    parser.add_argument("--storm-fingerprints", type=int, default=20)
    parser.add_argument("--storm-rate", type=float, default=500.0)
    parser.add_argument(
        "--rss-events",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="RSS checkpoints, cumulative events (1000,10000; quick 200,1000)",
    )
    parser.add_argument("--rss-rate", type=float, default=100.0)
    parser.add_argument("--rss-llm-latency", type=float, default=0.1)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-rates", action="store_true")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-storm", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer events, for a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/compare-*")
    parser.add_argument("--table", type=Path, default=None, help="print a results file as tables")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.table:
        print(table(json.loads(arguments.table.read_text())))
        sys.exit(0)
    outcome_ = asyncio.run(main(arguments))
    text = json.dumps(outcome_, indent=2)
    sys.stdout.write(text + "\n")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = arguments.out or REPO / "bench" / "results" / f"compare-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"wrote {out}", file=sys.stderr)
