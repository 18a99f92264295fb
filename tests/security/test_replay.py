"""Replays and confused deputies: a signed state change applies once, in order, in its channel.

Slack signs a request and gives it five minutes; anyone who captured one can send it again in
that window, and a slow network can deliver an `off` after a newer `on`. Buttons carry an
incident id in their value, so a crafted click from another channel could name any incident.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.devtools.slack import SlackSandbox
from bot.freeze import FreezeStore
from bot.store.embedded import EmbeddedRedis
from tests.fakes.signing import block_actions_body, slash_body
from tests.harness import ALERT_CHANNEL, ASK_CHANNEL, Bot, settings_for, start_bot, stop_bot


@pytest.fixture
async def bot(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> AsyncIterator[Bot]:
    running = await start_bot(
        settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=None),
        sandbox,
    )
    try:
        yield running
    finally:
        await stop_bot(running)


def _freeze_body(text: str, bot: Bot, rid: str) -> str:
    return slash_body(
        f"freeze {text}",
        user_id="U0ONCALL",
        channel_id=ASK_CHANNEL,
        response_url=bot.sandbox.response_url(rid),
    )


async def freeze_records(bot: Bot) -> list[dict[str, object]]:
    return [r for r in await bot.runtime.audit.records() if r["kind"] == "freeze_changed"]


async def test_a_replayed_freeze_applies_once(bot: Bot) -> None:
    body = _freeze_body("on for 1h vendor outage", bot, "f1")
    now = int(time.time())
    replies = [
        await bot.post_signed(body, "application/x-www-form-urlencoded", timestamp=now)
        for _ in range(3)
    ]
    assert [status for status, _ in replies] == [200, 200, 200]
    said = [json.loads(text) for _, text in replies]
    assert [s.get("response_type") for s in said] == ["in_channel", "ephemeral", "ephemeral"]
    assert "already applied" in said[1]["text"]
    assert len(await freeze_records(bot)) == 1
    assert len(await FreezeStore(bot.runtime.redis).history(10)) == 1


async def test_a_late_off_cannot_lift_a_newer_on(bot: Bot) -> None:
    now = int(time.time())
    off_signed_earlier = _freeze_body("off", bot, "f-off")
    on_later = _freeze_body("on for 1h market data vendor incident", bot, "f-on")
    status, _ = await bot.post_signed(on_later, "application/x-www-form-urlencoded", timestamp=now)
    assert status == 200
    status, text = await bot.post_signed(
        off_signed_earlier, "application/x-www-form-urlencoded", timestamp=now - 60
    )
    assert status == 200 and "newer freeze change" in json.loads(text)["text"]
    freezes = FreezeStore(bot.runtime.redis)
    manual = await freezes.manual()
    assert manual is not None and manual.version == 1
    assert [r["action"] for r in await freeze_records(bot)] == ["on"]
    # a fresh off (signed now) still works
    status, text = await bot.post_signed(
        _freeze_body("off", bot, "f-off2"), "application/x-www-form-urlencoded"
    )
    assert "lifted" in json.loads(text)["text"] and await freezes.manual() is None


async def test_a_button_acts_only_in_its_own_channel(bot: Bot) -> None:
    from tests.security.campaign import alert_message

    posted = bot.sandbox.inject_message(ALERT_CHANNEL, alert_message("svc-own", "latency"))
    assert await bot.event(posted) == 200
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    rid = "click-elsewhere"
    body = block_actions_body(
        action_id="wizard_resolve",
        value=incident.id,
        user_id="U0ONCALL",
        channel_id="C0ELSEWHERE",
        message_ts="1.1",
        response_url=bot.sandbox.response_url(rid),
    )
    status, _ = await bot.post_signed(body, "application/x-www-form-urlencoded")
    assert status == 200
    await bot.settle()
    still = await bot.runtime.incidents.get(incident.id)
    assert still is not None and still.state == "open"
    assert "another channel" in json.dumps(bot.sandbox.responses[rid])
