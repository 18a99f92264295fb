"""Edits, broadcasts, unknown formats and deploy announcements through the real bot.

The real Bolt app behind signed Events API requests, real Redis, the Slack sandbox and the fake
model: a Zabbix recovery arriving as an edit resolves its incident without a second analysis, a
Sentry escalation broadcast lands in the same incident, an unknown integration post is triaged
with a visible "format not recognised" note (and counted in /metrics), an Argo CD announcement
gets no thread at all.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, Bot, blocks_text, settings_for, start_bot, stop_bot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    message.pop("channel", None)
    message.pop("ts", None)
    return message


@pytest.fixture
async def bot(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: redis.Redis,  # flushes the database: event ids restart with each bot
    tmp_path: Path,
) -> AsyncIterator[Bot]:
    settings = settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm)
    running = await start_bot(settings, sandbox)
    yield running
    await stop_bot(running)


async def test_zabbix_recovery_edit_resolves_without_a_second_analysis(
    bot: Bot, llm: FakeAnthropic
) -> None:
    ts = await bot.post_alert(fixture("zabbix/problem.json"))
    await bot.settle()
    bot.answer(ALERT_CHANNEL, ts)
    calls = len(llm.requests)
    edit = fixture("zabbix/resolved_edit.json")
    edit["message"]["ts"] = ts
    edit["ts"] = edit["event_ts"] = f"{float(ts) + 250:.6f}"
    assert await bot.event({**edit, "channel": ALERT_CHANNEL}) == 200
    await bot.settle()
    assert bot.runtime.incidents is not None
    incident = await bot.runtime.incidents.by_thread(ALERT_CHANNEL, ts)
    assert incident is not None and incident.state == "resolved"
    assert len(llm.requests) == calls  # the edit updated the incident; no new analysis
    bot.answer(ALERT_CHANNEL, ts)  # still exactly one analysis in the thread
    assert "resolved" in blocks_text(bot.summary(ALERT_CHANNEL, ts)).lower()
    # a person editing their own message in the channel is not an alert
    person = {"type": "message", "user": "U0ALICE", "text": "typo fixed", "ts": ts}
    changed = {"type": "message", "subtype": "message_changed", "message": person}
    assert await bot.event({**changed, "channel": ALERT_CHANNEL, "ts": "1.000002"}) == 200
    await bot.settle()
    assert len(await bot.runtime.incidents.open_incidents()) == 0


async def test_sentry_escalation_broadcast_joins_the_incident(bot: Bot) -> None:
    ts = await bot.post_alert(fixture("sentry/metric_warning.json"))
    await bot.settle()
    broadcast = fixture("sentry/metric_escalation_broadcast.json")
    broadcast["thread_ts"] = ts
    await bot.post_alert(broadcast)
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    assert incident.thread_ts == ts and incident.severity == "critical"
    (alert,) = incident.alerts.values()
    assert alert.count == 2


async def test_unknown_integration_post_is_triaged_with_a_note_and_counted(bot: Bot) -> None:
    post = {"bot_id": "B0NEWTOOL", "username": "nightly-etl", "text": "ETL job positions stalled"}
    ts = await bot.post_alert(post)
    await bot.settle()
    card = blocks_text(bot.summary(ALERT_CHANNEL, ts))
    assert "format not recognised" in card
    bot.answer(ALERT_CHANNEL, ts)
    async with bot.session.get(f"{bot.base}/metrics") as response:
        metrics = await response.text()
    assert "wizard_alerts_unrecognised_total 1.0" in metrics


async def test_argo_cd_announcement_gets_no_thread(bot: Bot) -> None:
    ts = await bot.post_alert(fixture("not_alerts/argocd_deployed.json"))
    await bot.settle()
    assert bot.thread(ALERT_CHANNEL, ts) == []
    assert bot.runtime.incidents is not None
    assert await bot.runtime.incidents.open_incidents() == []


async def test_a_persons_mention_in_an_alert_channel_is_a_question_not_an_alert(
    bot: Bot, llm: FakeAnthropic
) -> None:
    """Slack sends a mention twice: as `message` and as `app_mention`, with one channel and ts
    (one dedup key). An integration's post is queued unparsed; a person's is parsed at once,
    so the `message` twin of a question does not take the key its `app_mention` needs."""
    said = {"user": "U0ONCALL", "text": "<@U0WIZARD> is the order gateway healthy?"}
    message = bot.sandbox.inject_message(ALERT_CHANNEL, said)
    assert await bot.event(message) == 200
    assert await bot.event({**message, "type": "app_mention"}) == 200
    await bot.settle()
    replies = bot.thread(ALERT_CHANNEL, message["ts"])
    assert replies and llm.requests, "the question was dropped as a duplicate"
    assert "order gateway healthy" in json.dumps(llm.requests[-1])
    assert bot.runtime.incidents is not None
    assert await bot.runtime.incidents.open_incidents() == []
