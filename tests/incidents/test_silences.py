"""The silence flow through the real bot: exact matchers, one per click window, confirmation when
only the name is known, "Expire silence", and the card following Alertmanager's state.

Alertmanager here is the API fake (tests/fakes/alertmanager_api.py); tests/e2e/ runs the same flow
against the real Debian Alertmanager.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.devtools.slack import SlackSandbox
from bot.render.incident import ACTION_SILENCE, ACTION_SILENCE_CONFIRM, ACTION_UNSILENCE
from bot.store.embedded import EmbeddedRedis
from tests.fakes.alertmanager_api import FakeAlertmanager
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, Bot, blocks_text, settings_for, start_bot, stop_bot
from tests.incidents.test_flow import am_webhook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
async def am_bot(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> AsyncIterator[tuple[Bot, FakeAlertmanager]]:
    async with FakeAlertmanager() as alertmanager:
        settings = settings_for(
            sandbox=sandbox,
            redis_url=redis_server.url,
            data_dir=tmp_path,
            llm=llm,
            ALERTMANAGER_URL=alertmanager.base_url,
            WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
        )
        bot = await start_bot(settings, sandbox)
        yield bot, alertmanager
        await stop_bot(bot)


async def test_one_silence_per_click_window_then_expire_follows_alertmanager(
    am_bot: tuple[Bot, FakeAlertmanager],
) -> None:
    bot, alertmanager = am_bot
    body = am_webhook([("PTPClockOffsetHigh", "ogw-1", "firing", "warning")])
    await bot.hook("/hooks/alertmanager", body)
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    root = bot.sandbox.messages(ALERT_CHANNEL)[0]
    for user in ("U0ONCALL", "U0ONCALL", "U0SECOND"):  # twice by one, once by another
        status, _ = await bot.click(ACTION_SILENCE, incident.id, user=user)
        assert status == 200
        await bot.settle()
    (silence,) = alertmanager.silences.values()
    assert {m["name"]: m["value"] for m in silence["matchers"]} == {
        "alertname": "PTPClockOffsetHigh",
        "env": "prod",
        "instance": "ogw-1",
        "service": "order-gateway",
    }
    root = next(m for m in bot.sandbox.messages(ALERT_CHANNEL) if m["ts"] == root["ts"])
    assert "silenced in Alertmanager until" in blocks_text(root)
    buttons = [e["action_id"] for e in root["blocks"][-1]["elements"]]
    assert ACTION_UNSILENCE in buttons and ACTION_SILENCE not in buttons

    status, _ = await bot.click(ACTION_UNSILENCE, incident.id)
    await bot.settle()
    assert alertmanager._state(silence) == "expired"
    root = next(m for m in bot.sandbox.messages(ALERT_CHANNEL) if m["ts"] == root["ts"])
    assert "silence expired" in blocks_text(root)
    assert ACTION_SILENCE in [e["action_id"] for e in root["blocks"][-1]["elements"]]


async def test_expiry_in_alertmanager_itself_reaches_the_card(
    am_bot: tuple[Bot, FakeAlertmanager],
) -> None:
    bot, alertmanager = am_bot
    body = am_webhook([("PTPClockOffsetHigh", "ogw-1", "firing", "warning")])
    await bot.hook("/hooks/alertmanager", body)
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    await bot.click(ACTION_SILENCE, incident.id)
    await bot.settle()
    (silence_id,) = alertmanager.silences
    async with bot.session.delete(f"{alertmanager.base_url}/api/v2/silence/{silence_id}") as r:
        assert r.status == 200  # someone expires it in Alertmanager's UI
    # the next notification (a fresh startsAt: not a re-delivery of the first) refreshes the card
    await bot.hook(
        "/hooks/alertmanager", am_webhook([("PTPClockOffsetHigh", "ogw-1", "firing", "warning")])
    )
    await bot.settle()
    root = bot.sandbox.messages(ALERT_CHANNEL)[0]
    assert "silence expired" in blocks_text(root)
    stored = await bot.runtime.incidents.get(incident.id)
    assert stored is not None and stored.silence_state == "expired"


async def test_name_only_silence_needs_confirmation_with_the_exact_matcher(
    am_bot: tuple[Bot, FakeAlertmanager],
) -> None:
    bot, alertmanager = am_bot
    post = json.loads((FIXTURES / "alertmanager" / "slack_default_fix_firing.json").read_text())
    post.pop("ts"), post.pop("channel")
    ts = await bot.post_alert(post)
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    _, rid = await bot.click(ACTION_SILENCE, incident.id)
    await bot.settle()
    assert alertmanager.silences == {}
    (prompt,) = bot.sandbox.responses[rid]
    assert '{alertname="FixSessionDown"}' in blocks_text(prompt)
    assert ACTION_SILENCE_CONFIRM in json.dumps(prompt["blocks"])
    await bot.click(ACTION_SILENCE_CONFIRM, incident.id)
    await bot.settle()
    (silence,) = alertmanager.silences.values()
    assert [(m["name"], m["value"]) for m in silence["matchers"]] == [
        ("alertname", "FixSessionDown")
    ]
    assert ts
