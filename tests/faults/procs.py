"""Real `wizard serve` processes for the fault-injection tests, and the Slack side that feeds them.

Why processes and not the in-process harness: the faults under test are process faults — a worker
killed with SIGKILL leaves its Redis connections half-open and its job pending, two replicas race
for the same event, a Redis restart hits every open connection of a live process. Only a real
process, with its own event loop, sockets and signal handling, shows what operators will see.

Each bot writes its JSON logs to a file (a pipe would fill up and stall the bot), the file's tail
goes into every assertion message, and `running_bots` kills whatever it started, always.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.devtools.slack import SlackSandbox
from bot.pipeline.worker import queue_idle as stages_idle
from tests.fakes.signing import event_body, signed_headers

SIGNING_SECRET = "faults-signing-secret-0123456789"
BOT_TOKEN = "xoxb-faults-bot-token"
APP_TOKEN = "xapp-1-faults-app-token"
ALERT_CHANNEL = "C0ALERTS"
PAYLOADS = Path(__file__).resolve().parents[2] / "bot" / "demo" / "payloads"
_ALERT_TEMPLATE = (PAYLOADS / "02_alertmanager_slack.json").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alert_message(n: int) -> dict[str, Any]:
    """The bundled Alertmanager Slack post, made distinct per `n` (name, instance and service),
    so every alert is its own incident (its own thread, summary and analysis): the faults are
    about each alert being answered exactly once, not about grouping."""
    text = _ALERT_TEMPLATE.replace("OrderGatewayLatencyHigh", f"OrderGatewayLatencyHigh{n}")
    text = text.replace("order-gateway", f"order-gateway-{n}")
    return dict(json.loads(text.replace("ogw-2:9102", f"ogw-{n}:9102")))


AUDIT_KEY = "faults-audit-key-not-a-real-secret"
PSEUDONYM_KEY = "faults-pseudonym-key-not-a-real-secret"


def bot_env(
    *,
    sandbox: SlackSandbox,
    redis_url: str,
    data_dir: Path,
    llm_url: str | None = None,
    deadline_s: float = 3.0,
    reclaim_idle_s: float = 2.0,
    workers: int = 2,
    socket_mode: bool = False,
    **extra: str,
) -> dict[str, str]:
    """The environment an operator would set, and nothing inherited that could change it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "WIZARD_", "ANTHROPIC_", "REDIS_"))
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=sandbox.base_url,
        REDIS_URL=redis_url,
        WIZARD_ALERT_CHANNELS=ALERT_CHANNEL,
        WIZARD_DATA_DIR=str(data_dir),
        WIZARD_LLM_DEADLINE_S=str(deadline_s),
        WIZARD_RECLAIM_IDLE_S=str(reclaim_idle_s),
        WIZARD_WORKERS=str(workers),
        WIZARD_LOG_LEVEL="INFO",
        WIZARD_SUMMARY_INTERVAL_S="0.2",  # summary-card refreshes follow quickly in tests
        # a fleet shares its secrets, as the README asks of production replicas
        WIZARD_AUDIT_KEY=AUDIT_KEY,
        WIZARD_PSEUDONYM_KEY=PSEUDONYM_KEY,
    )
    if llm_url is not None:
        env.update(ANTHROPIC_API_KEY="sk-ant-faults-not-a-real-key", ANTHROPIC_BASE_URL=llm_url)
    if socket_mode:
        env["SLACK_APP_TOKEN"] = APP_TOKEN
    env.update(extra)
    return env


@dataclass
class BotProcess:
    """One `wizard serve` child process."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    async def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until `/healthz` says Redis and workers are fine; the log tail if it never does."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if not self.alive:
                    raise AssertionError(f"{self.name} exited with {self.proc.returncode}\n{self}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(
                        f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not healthy after {timeout}s\n{self}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like an OOM kill or a lost node."""
        if self.alive:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait for a clean exit; SIGKILL if it hangs. Returns the exit code."""
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.alive and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        if self.alive:
            self.kill()
        return int(self.proc.wait(10))

    def logs(self) -> list[dict[str, Any]]:
        """Every JSON log line the process wrote so far."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        return [entry for entry in self.logs() if entry.get("event") == name]

    def done(self, stage: str) -> list[dict[str, Any]]:
        """`job_done` of one stage: "fast" (alert, card) or "analysis" (the model call)."""
        return [entry for entry in self.events("job_done") if entry.get("stage") == stage]

    def tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def __str__(self) -> str:
        return f"--- {self.name} log tail ({self.log_path}) ---\n{self.tail()}"


def launch_bot(
    name: str, env: dict[str, str], log_dir: Path, args: Sequence[str] = ()
) -> BotProcess:
    """Start `wizard serve` on a free port, logs to `log_dir/<name>.log`; does not wait."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    cwd = Path(env["WIZARD_DATA_DIR"])
    cwd.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"),
                *("--port", str(port), *args),
            ],
            env=env,
            cwd=cwd,  # no stray .env file from the checkout
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return BotProcess(name, port, proc, log_path)


async def spawn_bot(
    name: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    healthy_timeout: float = 30.0,
    args: Sequence[str] = (),
) -> BotProcess:
    """Start `wizard serve` and wait until it is healthy (killed if it never is)."""
    bot = launch_bot(name, env, log_dir, args)
    try:
        await bot.wait_healthy(healthy_timeout)
    except BaseException:
        bot.kill()
        raise
    return bot


class Fleet:
    """The bots a test started; `running_bots` kills them all at the end, whatever happened."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.bots: list[BotProcess] = []

    async def spawn(self, name: str, env: dict[str, str], args: Sequence[str] = ()) -> BotProcess:
        bot = await spawn_bot(name, env, self.log_dir, args=args)
        self.bots.append(bot)
        return bot

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for bot in self.bots for e in bot.events(name)]

    def __str__(self) -> str:
        return "\n".join(str(bot) for bot in self.bots)


@contextlib.asynccontextmanager
async def running_bots(log_dir: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(log_dir)
    try:
        yield fleet
    finally:
        for bot in fleet.bots:
            with contextlib.suppress(Exception):
                await bot.stop(timeout=5)
            if bot.alive:  # pragma: no cover - stop() already escalates
                bot.kill()


class SlackEvents:
    """Sends signed Events API requests the way Slack does: 3 s to ack, then a retry."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def deliver(
        self,
        bot: BotProcess,
        event: dict[str, Any],
        event_id: str,
        *,
        retry: int = 0,
        timeout: float = 3.0,
    ) -> int | None:
        """One delivery; the HTTP status, or None when Slack would call it a timeout/failure."""
        body = event_body(event, event_id=event_id)
        headers = {**signed_headers(SIGNING_SECRET, body), "Content-Type": "application/json"}
        if retry:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"})
        try:
            async with self.session.post(
                f"{bot.url}/slack/events",
                data=body.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def deliver_until_acked(
        self,
        bots: Iterable[BotProcess],
        event: dict[str, Any],
        event_id: str,
        *,
        within: float = 30.0,
    ) -> int:
        """Deliver, and redeliver (round-robin over `bots`) until one answers 200, as Slack
        retries a failed delivery. Returns how many deliveries it took."""
        targets = list(bots)
        deadline = time.monotonic() + within
        attempt = 0
        while True:
            status = await self.deliver(
                targets[attempt % len(targets)], event, event_id, retry=attempt
            )
            attempt += 1
            if status == 200:
                return attempt
            if time.monotonic() > deadline:
                raise AssertionError(f"event {event_id} never acked (last status {status})")
            await asyncio.sleep(min(0.25 * attempt, 1.0))


def bot_replies(sandbox: SlackSandbox, channel: str, ts: str) -> list[dict[str, Any]]:
    """The bot's messages in the thread under `ts` (the parent excluded)."""
    return [
        m
        for m in sandbox.replies(channel, ts)
        if m["ts"] != ts and m.get("user") == sandbox.bot_user_id
    ]


def finals(sandbox: SlackSandbox, channel: str, ts: str) -> list[dict[str, Any]]:
    """The finished analyses in the thread (the incident summary card is not one)."""
    return [m for m in bot_replies(sandbox, channel, ts) if is_final(m)]


def is_final(message: dict[str, Any]) -> bool:
    """A finished triage (model or runbook): its full plan, the last of its two messages."""
    return "Immediate actions" in json.dumps(message.get("blocks") or [])


async def wait_until(
    predicate: Callable[[], bool], timeout: float, what: Callable[[], str] | str = ""
) -> float:
    """Poll until `predicate()`; returns the seconds it took, or fails saying `what`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            detail = what() if callable(what) else what
            raise AssertionError(f"not within {timeout}s: {detail}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def queue_idle(client: Any) -> bool:
    """Nothing waiting and nothing pending in either stage (fast jobs and analyses)."""
    return await stages_idle(client)


async def wizard_cli(
    env: dict[str, str], *args: str, timeout: float = 30.0
) -> tuple[int, str, str]:
    """Run `wizard <args>` as an operator would (same environment as the bots); returns the exit
    code, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=env["WIZARD_DATA_DIR"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return int(proc.returncode or 0), stdout.decode(), stderr.decode()
