"""`wizard check` and `wizard serve`'s start-up checks, run as an operator runs them: real
processes against a real Redis, the local Slack and a real Alertmanager (Debian's package)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[str]:
    """A real Alertmanager on loopback (no cluster), its base URL once /-/ready answers."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert binary, "apt-get install prometheus-alertmanager (.ci/run does)"
    config = tmp_path / "am.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    port = _port()
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            while True:
                try:
                    async with session.get(f"{url}/-/ready") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WIZARD_"))}
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "REDIS_URL", "ALERTMANAGER_URL"):
        env.pop(name, None)
    env.update(
        WIZARD_DATA_DIR=str(tmp_path / "data"),
        WIZARD_CATALOG_PATH=str(ROOT / "catalog.yaml"),
        WIZARD_FREEZES_PATH=str(ROOT / "freezes.yaml"),
        **settings,
    )
    return env


async def _wizard(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run the CLI as a child process (the sandbox answers it from this event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        env=env, cwd=env["WIZARD_DATA_DIR"].rsplit("/", 1)[0],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _lines(out: str) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for line in out.splitlines():
        status, name, *_ = line.split()
        by_name.setdefault(name, []).append(line)
        assert status in ("ok", "warn", "FAIL", "skip"), line
    return by_name


async def test_check_reports_every_part_and_fails_when_the_bot_is_not_in_a_channel(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, alertmanager: str, tmp_path: Path
) -> None:
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-check",
        SLACK_SIGNING_SECRET="check-secret",
        SLACK_API_URL=sandbox.base_url,
        REDIS_URL=redis_server.url,
        WIZARD_ALERT_CHANNELS="C0ALERTS",
        WIZARD_COMMAND_CHANNELS="C0OPS",
        ALERTMANAGER_URL=alertmanager,
    )
    sandbox.workspace.not_member.add("C0OPS")
    code, out, err = await _wizard(env, "check")
    assert code == 1, out + err
    lines = _lines(out)
    for name in ("settings", "data", "redis", "slack", "runbooks", "catalog", "freezes"):
        assert lines[name][0].startswith("ok "), out
    assert lines["model"][0].startswith("skip") and "ANTHROPIC_API_KEY" in lines["model"][0]
    assert any("C0ALERTS" in line and line.startswith("ok ") for line in lines["channels"])
    (missing,) = [line for line in lines["channels"] if line.startswith("FAIL")]
    assert "WIZARD_COMMAND_CHANNELS" in missing and "not a member of C0OPS" in missing
    assert lines["monitoring"] == [f"ok   monitoring ALERTMANAGER_URL={alertmanager}/ is ready"]
    assert {c.method for c in sandbox.calls} >= {"auth.test", "conversations.info"}

    sandbox.workspace.not_member.clear()
    code, out, err = await _wizard(env, "check")
    assert code == 0, out + err
    assert "FAIL" not in out


@pytest.mark.parametrize(
    ("setting", "value"),
    [("WIZARD_ALERT_CHANNELS", "#alerts"), ("WIZARD_ALERT_CHANNELS", "C1;C2"),
     ("WIZARD_COMMAND_CHANNELS", "alerts"), ("WIZARD_WEBHOOK_CHANNEL", "#ops")],
)  # fmt: skip
async def test_channel_names_instead_of_ids_are_refused_naming_the_setting(
    setting: str, value: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", **{setting: value})
    code, out, _ = await _wizard(env, "check")
    assert code == 1
    assert out.splitlines() == [out.splitlines()[0]]  # one line
    assert out.startswith(f"FAIL settings   {setting} is invalid: {value!r} is not a Slack channel")
    code, _, err = await _wizard(env, "serve", "--port", "0")
    assert code == 2 and err.count("\n") == 1 and setting in err


async def test_serve_with_an_unreachable_redis_exits_2_fast_naming_redis_url(
    tmp_path: Path,
) -> None:
    dead = f"redis://:hunter2@127.0.0.1:{_port()}/0"  # nothing listens there
    env = _env(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", REDIS_URL=dead)
    started = time.monotonic()
    code, out, err = await _wizard(env, "serve", "--port", "0")
    elapsed = time.monotonic() - started
    assert code == 2, err
    (line,) = err.splitlines()
    assert line.startswith("wizard: REDIS_URL=redis://:***@127.0.0.1:") and "unreachable" in line
    assert "hunter2" not in err + out and "Traceback" not in err
    assert elapsed < 15, elapsed  # no retry loop: redis-py's policy alone took ~22 s


async def test_serve_refuses_to_start_when_the_bot_is_not_in_its_alert_channel(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    sandbox.workspace.not_member.add("C0ALERTS")
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-serve",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=sandbox.base_url,
        REDIS_URL=redis_server.url,
        WIZARD_ALERT_CHANNELS="C0ALERTS",
    )
    code, _, err = await _wizard(env, "serve", "--port", "0")
    assert code == 2
    assert err.splitlines() == [
        "wizard: WIZARD_ALERT_CHANNELS: the bot is not a member of C0ALERTS (#c0alerts): "
        "/invite it there"
    ]


async def test_check_names_a_revoked_token(sandbox: SlackSandbox, tmp_path: Path) -> None:
    sandbox.fail_next("auth.test", error="invalid_auth")
    env = _env(
        tmp_path, SLACK_BOT_TOKEN="xoxb-revoked", SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=sandbox.base_url,
    )  # fmt: skip
    code, out, _ = await _wizard(env, "check")
    assert code == 1
    assert "FAIL slack      SLACK_BOT_TOKEN was refused: auth.test says invalid_auth" in out


async def test_check_retrieves_the_model_and_names_a_wrong_one(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, llm: FakeAnthropic, tmp_path: Path
) -> None:
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-check",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=sandbox.base_url,
        REDIS_URL=redis_server.url,
        WIZARD_ALERT_CHANNELS="C0ALERTS",
        ANTHROPIC_API_KEY="sk-ant-check-not-real",
        ANTHROPIC_BASE_URL=llm.base_url,
    )
    code, out, err = await _wizard(env, "check")
    assert code == 0, out + err
    assert _lines(out)["model"][0].startswith("ok   model      WIZARD_MODEL=claude-")
    code, out, _ = await _wizard({**env, "WIZARD_MODEL": "claude-imaginary-9"}, "check")
    assert code == 1
    (line,) = _lines(out)["model"]
    assert line.startswith("FAIL model      WIZARD_MODEL=claude-imaginary-9 is not a model")
    assert "sk-ant-check-not-real" not in out
