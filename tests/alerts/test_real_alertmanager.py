"""Real Prometheus → real Alertmanager → the bot, by webhook AND by Slack post, end to end.

Debian's `prometheus` evaluates `order_rejects_ratio > 0.5` against a tiny exporter; Debian's
`prometheus-alertmanager` (group_wait 1 s, group_interval 2 s, repeat_interval 5 s) delivers the
group to the bot's `/hooks/alertmanager` and, with its default Slack template, to a local relay
that stores the post in the Slack sandbox and re-sends it to `/slack/events` as a Slack event
signed with the real v0 scheme. Asserted: one incident for the group (the post is matched to the
webhook's incident, whichever arrives first), repeats counted, one analysis, a silence with the
full label matchers created in the real Alertmanager, a second click reusing it, "Expire silence"
reflected on the card, and exactly one resolution. Every wait is a condition with a deadline.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis
from aiohttp import web

from bot.app import build_runtime
from bot.devtools.monitoring import (
    Exporter,
    Server,
    binaries_present,
    eventually,
    free_port,
    start_alertmanager,
    start_prometheus,
)
from bot.devtools.slack import SlackSandbox
from bot.incidents.models import Incident
from bot.render.incident import ACTION_SILENCE, ACTION_UNSILENCE
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, HOOK_TOKEN, Bot, blocks_text, settings_for, stop_bot

if not binaries_present():  # .ci/run installs them (need_debian_pkg); say so loudly if not
    raise RuntimeError("Debian's prometheus and prometheus-alertmanager are required")

SERIES = 'order_rejects_ratio{service="order-gateway",env="prod"}'
RULES = json.dumps(
    {
        "groups": [
            {
                "name": "trading",
                "rules": [
                    {
                        "alert": "OrderRejectsHigh",
                        "expr": "order_rejects_ratio > 0.5",
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "order rejects at {{ $value }}"},
                    }
                ],
            }
        ]
    }
)


def alertmanager_config(webhook: str, slack: str) -> dict[str, Any]:
    """The bot's webhook and a Slack receiver (default templates), short intervals."""
    receiver = {
        "name": "wizard",
        "webhook_configs": [
            {
                "url": webhook,
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": HOOK_TOKEN}},
            }
        ],
        "slack_configs": [{"api_url": slack, "channel": "#alerts", "send_resolved": True}],
    }
    return {
        "route": {
            "receiver": "wizard",
            "group_by": ["alertname", "env"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "5s",
        },
        "receivers": [receiver],
    }


class SlackRelay:
    """Alertmanager's Slack receiver posts here; the post becomes a signed Slack event."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.posts: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/slack", self.receive)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/slack"

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append(body)
        message = {
            "subtype": "bot_message",
            "bot_id": "B0ALERTMGR",
            "username": body.get("username") or "Alertmanager",
            "text": body.get("text") or "",
            "attachments": [{"id": i + 1, **a} for i, a in enumerate(body.get("attachments", []))],
        }
        posted = self.bot.sandbox.inject_message(ALERT_CHANNEL, message)
        status = await self.bot.event(posted)  # signed with the real v0 scheme
        return web.Response(status=200 if status == 200 else 500, text="ok")

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def stack(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> AsyncIterator[tuple[Bot, Server, Exporter, SlackRelay]]:
    exporter = Exporter().start()
    exporter.set(SERIES, 0.9)
    bot_port, am_port = free_port(), free_port()  # each needs the other's URL
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        ALERTMANAGER_URL=f"http://127.0.0.1:{am_port}",
        WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
        WIZARD_HOOK_REDELIVERY_WINDOW_S=1,
    )
    runtime = await build_runtime(settings)
    await runtime.start_http("127.0.0.1", bot_port)
    bot = Bot(runtime, sandbox, aiohttp.ClientSession())
    relay = SlackRelay(bot)
    await relay.start()
    am = start_alertmanager(
        tmp_path / "am",
        config=alertmanager_config(f"{bot.base}/hooks/alertmanager", relay.url),
        port=am_port,
    )
    prometheus = start_prometheus(
        tmp_path / "prom", exporter.port, alertmanager_port=am.port, rules=RULES
    )
    yield bot, am, exporter, relay
    prometheus.stop()
    am.stop()
    await relay.stop()
    await stop_bot(bot)
    exporter.stop()


async def am_get(session: aiohttp.ClientSession, am: Server, path: str) -> Any:
    async with session.get(f"{am.url}/api/v2/{path}") as response:
        return await response.json()


async def test_real_alertmanager_webhook_and_slack_post(
    stack: tuple[Bot, Server, Exporter, SlackRelay], llm: FakeAnthropic
) -> None:
    bot, am, exporter, relay = stack
    incidents = bot.runtime.incidents
    assert incidents is not None

    async def open_incidents() -> list[Incident]:
        return await incidents.open_incidents()

    # one incident for the group, fed by both receivers
    opened = await eventually(
        "the group's incident and both receivers' first deliveries",
        open_incidents,
        lambda found: len(found) == 1 and bool(relay.posts),
        deadline_s=60,
    )
    incident = opened[0]
    first_events = incident.events

    async def latest() -> Incident:
        found = await incidents.get(incident.id)
        assert found is not None
        return found

    # repeats (repeat_interval 5 s) are counted, last seen moves, no second analysis
    repeated = await eventually(
        "repeat notifications counted",
        latest,
        lambda i: i.events >= first_events + 2 and len(relay.posts) >= 3,
        deadline_s=60,
    )
    assert repeated.last_seen > incident.last_seen
    assert len(await open_incidents()) == 1  # the Slack posts never opened a second one
    analysed = await eventually("the analysis", latest, lambda i: i.analyses >= 1)
    assert analysed.analyses == 1
    await bot.settle(timeout=30)
    analyses = bot.slot_messages(ALERT_CHANNEL, repeated.thread_ts, "analysis:")
    assert len(analyses) == 1  # (its full plan follows under the slot "plan:analysis:…")

    # silence: full matchers in the real Alertmanager, once per click window
    def active(silences: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in silences if s["status"]["state"] == "active"]

    status, _ = await bot.click(ACTION_SILENCE, incident.id, user="U0ONCALL")
    assert status == 200
    silences = await eventually(
        "a silence in Alertmanager",
        lambda: am_get(bot.session, am, "silences"),
        lambda found: len(active(found)) == 1,
    )
    (silence,) = active(silences)
    matchers = {m["name"]: m["value"] for m in silence["matchers"]}
    assert matchers["alertname"] == "OrderRejectsHigh"
    assert matchers["env"] == "prod" and matchers["service"] == "order-gateway"
    assert {"instance", "job"} <= set(matchers) and "severity" not in matchers
    assert all(m["isEqual"] and not m["isRegex"] for m in silence["matchers"])
    for user in ("U0ONCALL", "U0SECOND"):  # the same click again, and a second responder
        await bot.click(ACTION_SILENCE, incident.id, user=user)
    await bot.settle(timeout=30)
    assert len(active(await am_get(bot.session, am, "silences"))) == 1

    def card() -> str:
        root = next(m for m in bot.sandbox.messages(ALERT_CHANNEL) if m["ts"] == incident.thread_ts)
        card_message = (
            root
            if "incident:" in json.dumps(root.get("blocks"))
            else bot.summary(ALERT_CHANNEL, incident.thread_ts)
        )
        return blocks_text(card_message)

    async def card_text() -> str:
        await bot.settle(timeout=30)
        return card()

    await eventually("the card shows the silence", card_text, lambda t: "silenced in" in t)

    # expire from Slack: Alertmanager says expired, and so does the card
    await bot.click(ACTION_UNSILENCE, incident.id, user="U0ONCALL")
    await eventually(
        "the silence expired in Alertmanager",
        lambda: am_get(bot.session, am, "silences"),
        lambda found: not active(found),
    )
    await eventually("the card shows the expiry", card_text, lambda t: "silence expired" in t)

    # resolution: once, however many receivers and repeats report it
    exporter.set(SERIES, 0.0)
    resolved = await eventually(
        "the incident resolved", latest, lambda i: i.state == "resolved", deadline_s=60
    )
    await eventually(
        "both receivers' resolved notifications",
        lambda: _async(lambda: relay.posts),
        lambda posts: any("RESOLVED" in json.dumps(p) for p in posts),
        deadline_s=30,
    )
    await bot.settle(timeout=30)
    notes = bot.slot_messages(ALERT_CHANNEL, resolved.thread_ts, "resolved:")
    assert len(notes) == 1
    assert len(await incidents.open_incidents()) == 0
    assert len(llm.requests) >= 1


async def _async(value: Callable[[], Any]) -> Any:
    return value()
