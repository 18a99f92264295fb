"""The validator in front of Bolt and the hooks, request by request, over real HTTP.

Each case was a 500 (or a connection held open forever) before `bot/inbound.py`: a non-numeric
timestamp, deep nesting, a lone surrogate, a 10 MB body answered 400 instead of 413, a body
trickled in one byte at a time, a list-typed `team_id` that passed the team allow-list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot import inbound
from bot.devtools.slack import SlackSandbox
from bot.slack.access import AccessPolicy, team_ids
from bot.store.embedded import EmbeddedRedis
from tests.fakes.signing import event_body
from tests.harness import HOOK_TOKEN, Bot, settings_for, start_bot, stop_bot


@pytest.fixture
async def bot(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> AsyncIterator[Bot]:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=None,
        WIZARD_ALLOWED_TEAM_IDS="T0WIZ",
    )
    running = await start_bot(settings, sandbox)
    try:
        yield running
    finally:
        await stop_bot(running)


def test_json_depth_is_measured_without_parsing() -> None:
    assert inbound.json_depth('{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert inbound.json_depth("[" * 100_000 + "]" * 100_000) == 100_000
    with pytest.raises(inbound.Rejected) as refused:
        inbound.parse_json("[" * 65 + "]" * 65)
    assert refused.value.status == 400
    assert inbound.parse_json("[" * 64 + "]" * 64) is not None


async def test_malformed_slack_requests_get_a_reason_not_a_500(bot: Bot) -> None:
    event = {"type": "message", "channel": "C0X", "ts": "1.1", "text": "hi", "user": "U1"}
    good = event_body(event, event_id="EvOk")
    cases = {
        "deep": '{"type":"event_callback","event":{"type":"message","x":'
        + "[" * 500
        + "]" * 500
        + "}}",
        "surrogate": json.dumps(json.loads(good) | {"event": event | {"text": "\ud800"}}),
        "actions_not_list": "payload="
        + json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": "x"}),
        "view_without_type": "payload="
        + json.dumps({"type": "view_submission", "user": {"id": "U1"}, "view": {}}),
        "array_body": "[1, 2]",
    }
    for name, body in cases.items():
        content_type = (
            "application/json" if body[:1] in "[{" else "application/x-www-form-urlencoded"
        )
        status, text = await bot.post_signed(body, content_type)
        assert status == 400, (name, status, text)
        assert json.loads(text)["error"], name
    status, _ = await bot.post_signed(good, extra_headers={"X-Slack-Request-Timestamp": "soon"})
    assert status == 400
    assert (await bot.post_signed(good))[0] == 200


async def test_list_typed_team_id_is_refused_by_the_allow_list(bot: Bot) -> None:
    body = json.loads(event_body({"type": "app_mention", "text": "x"}, event_id="EvT"))
    assert not AccessPolicy(allowed_team_ids=frozenset({"T0WIZ"})).team_allowed(
        body | {"team_id": ["T0WIZ", "T0EVIL"]}
    )
    assert team_ids({"team_id": "T0WIZ", "enterprise_id": ""}) == {"T0WIZ"}
    status, text = await bot.post_signed(json.dumps(body | {"team_id": ["T0WIZ", "T0EVIL"]}))
    assert status == 400 and "team_id" in text


async def test_oversized_bodies_get_413(bot: Bot) -> None:
    big = b"x" * (inbound.MAX_BODY + 1)
    async with bot.session.post(f"{bot.base}/slack/events", data=big) as response:
        assert response.status == 413
    headers = {"Authorization": f"Bearer {HOOK_TOKEN}", "Content-Type": "application/json"}
    async with bot.session.post(
        f"{bot.base}/hooks/alertmanager", data=big, headers=headers
    ) as response:
        assert response.status == 413


async def test_a_body_trickled_in_is_cut_off(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slowloris: headers promise 1000 bytes, one byte arrives every 200 ms; the bot answers
    408 once its body-read bound passes instead of holding the connection open."""
    monkeypatch.setattr(inbound, "BODY_READ_S", 1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", bot.runtime.port)
    writer.write(
        b"POST /hooks/deploy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + HOOK_TOKEN.encode() + b"\r\nContent-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    started = time.monotonic()

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(100):
                await asyncio.sleep(0.2)
                writer.write(b" ")
                await writer.drain()

    sender = asyncio.create_task(trickle())
    try:
        async with asyncio.timeout(10):
            status_line = await reader.readline()
    finally:
        sender.cancel()
        writer.close()
    assert b" 408 " in status_line, status_line
    assert time.monotonic() - started < 5
