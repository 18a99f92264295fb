"""Webhook vs Slack post of one Alertmanager alert, through the real bot (real Redis, sandbox).

Sure matches are covered against the real Alertmanager in tests/alerts/test_real_alertmanager.py;
here: a post that fits the webhook's incident is linked, not a second incident; a post that fits
two webhook incidents keeps its own incident, is not analysed, and both threads are linked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, Bot, blocks_text, settings_for, start_bot, stop_bot

AM = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"


def webhook(replica: str) -> dict[str, Any]:
    """The captured FixSessionDown webhook, firing now, one replica label apart."""
    body: dict[str, Any] = json.loads((AM / "webhook_resolved.json").read_text())
    body = copy.deepcopy(body)
    body["status"] = "firing"
    alert = body["alerts"][0]
    alert.update(
        status="firing",
        startsAt=datetime.now(UTC).isoformat(),
        endsAt="0001-01-01T00:00:00Z",
        fingerprint=f"fix{replica}".ljust(16, "0"),
    )
    alert["labels"]["replica"] = replica
    body["groupKey"] = f'{{}}:{{alertname="FixSessionDown", replica="{replica}"}}'
    return body


def post() -> dict[str, Any]:
    message: dict[str, Any] = json.loads((AM / "slack_default_fix_firing.json").read_text())
    message.pop("ts"), message.pop("channel")
    return message


@pytest.fixture
async def bot(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> AsyncIterator[Bot]:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
    )
    running = await start_bot(settings, sandbox)
    yield running
    await stop_bot(running)


async def test_post_of_the_webhooks_alert_is_linked_not_a_second_incident(
    bot: Bot, llm: FakeAnthropic
) -> None:
    assert await bot.hook("/hooks/alertmanager", webhook("a")) == 200
    await bot.settle()
    calls = len(llm.requests)
    ts = await bot.post_alert(post())
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    assert incident.events == 1  # the post is the same notification: not counted again
    assert len(llm.requests) == calls
    (note,) = bot.thread(ALERT_CHANNEL, ts)
    assert f"Same alert as {incident.id}" in blocks_text(note)
    info = await bot.runtime.store.get_thread(ALERT_CHANNEL, ts)
    assert info is not None and info.incident_id == incident.id  # follow-ups get its context


async def test_post_fitting_two_incidents_is_not_analysed_and_links_both(
    bot: Bot, llm: FakeAnthropic
) -> None:
    for replica in ("a", "b"):
        assert await bot.hook("/hooks/alertmanager", webhook(replica)) == 200
    await bot.settle()
    assert bot.runtime.incidents is not None
    webhook_incidents = await bot.runtime.incidents.open_incidents()
    assert len(webhook_incidents) == 2
    calls = len(llm.requests)
    ts = await bot.post_alert(post())
    await bot.settle()
    assert len(await bot.runtime.incidents.open_incidents()) == 3
    assert len(llm.requests) == calls  # unsure: not analysed a second time
    own = " ".join(blocks_text(m) for m in bot.thread(ALERT_CHANNEL, ts))
    assert all(f"Possibly the same alert as {i.id}" in own for i in webhook_incidents)
    for other in webhook_incidents:
        texts = " ".join(blocks_text(m) for m in bot.thread(ALERT_CHANNEL, other.thread_ts))
        assert "Possibly the same alert as" in texts
