"""DMs and the assistant pane, end to end: signed events into the real bot, real Redis, the local
Slack and the fake model. The pane offers prompts naming the open incidents; a question there or
in a DM is answered once in its thread under "is thinking…", titled, audited with its source;
follow-ups remember the thread; someone outside the command channels is refused; the budget
holds; the bot's own messages never start a reply."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.devtools.slack import SlackSandbox
from bot.slack.replies import THINKING
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.signing import event_body
from tests.harness import ASK_CHANNEL, Bot, blocks_text, settings_for, start_bot, stop_bot
from tests.test_end_to_end import alert_message

DM = "D0ONCALL"
ONCALL = "U0ONCALL"
STRANGER = "U0STRANGER"
STATUS_TARGET_S = 1.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def bot(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
) -> AsyncIterator[Bot]:
    """The wizard answers in ASK_CHANNEL only; ONCALL is a member there, STRANGER is not."""
    sandbox.channel_members[ASK_CHANNEL] = [ONCALL, "U0OTHER"]
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        WIZARD_COMMAND_CHANNELS=ASK_CHANNEL,
        WIZARD_LLM_MAX_PER_USER_HOUR=2,
    )
    running = await start_bot(settings, sandbox)
    yield running
    await stop_bot(running)


async def open_pane(bot: Bot, user: str = ONCALL, channel: str = DM) -> str:
    """The user opens the wizard's pane: Slack makes the thread's root and says so."""
    root = bot.sandbox.inject_message(
        channel,
        {"type": "message", "subtype": "assistant_app_thread", "user": user, "text": "New chat"},
    )
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": ASK_CHANNEL, "team_id": bot.sandbox.team_id},
            "channel_id": channel,
            "thread_ts": root["ts"],
        },
        "event_ts": root["ts"],
    }
    assert await bot.event(started) == 200
    return str(root["ts"])


async def say(
    bot: Bot, text: str, thread_ts: str | None, user: str = ONCALL, channel: str = DM
) -> dict[str, Any]:
    """`user` writes in their DM with the bot (in `thread_ts`, or top level); Slack sends it."""
    message: dict[str, Any] = {"type": "message", "user": user, "text": text}
    if thread_ts:
        message["thread_ts"] = thread_ts
    posted = bot.sandbox.inject_message(channel, message)
    assert await bot.event({**posted, "channel_type": "im"}) == 200
    return posted


def bot_replies(bot: Bot, thread_ts: str, channel: str = DM) -> list[dict[str, Any]]:
    return [m for m in bot.thread(channel, thread_ts) if m.get("bot_id") == bot.sandbox.bot_id]


def slot(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("slot"))


async def audited(bot: Bot, kind: str) -> list[dict[str, Any]]:
    return [r for r in await bot.runtime.audit.records() if r["kind"] == kind]


async def test_pane_prompts_name_the_open_incidents_worst_first(
    bot: Bot, llm: FakeAnthropic
) -> None:
    for name, service in (
        ("OrderGatewayLatencyHigh", "order-gateway"),
        ("FixSessionDown", "fix-engine"),
        ("ClockDriftHigh", "ptp"),
        ("KafkaLagHigh", "risk-engine"),
    ):
        await bot.post_alert(alert_message(name, service))
    await bot.settle()
    assert bot.runtime.incidents is not None
    open_now = await bot.runtime.incidents.open_incidents()
    assert len(open_now) == 4
    thread_ts = await open_pane(bot)
    await bot.drain()
    shown = bot.sandbox.workspace.suggested_prompts[(DM, thread_ts)]
    prompts = shown["prompts"]
    assert len(prompts) == 4 and shown["title"] == "Ask the wizard"
    named = [p for p in prompts if p["title"].startswith("Status of INC-")]
    assert len(named) == 3  # three incidents, then a general question
    assert prompts[-1]["title"] == "What is frozen right now?"
    titles = {i.id: i.title for i in open_now}
    for prompt in named:
        incident_id = prompt["title"].removeprefix("Status of ").split(":")[0]
        assert incident_id in titles and incident_id in prompt["message"]
        assert titles[incident_id][:20] in prompt["message"]
    # Nothing was posted in the pane: the prompts are the greeting.
    assert bot_replies(bot, thread_ts) == []

    # Clicking one asks it; the model is shown what is open now (as data), worst first.
    await say(bot, named[0]["message"], thread_ts)
    await bot.drain()
    prompt = json.dumps(llm.requests[-1]["body"]["messages"])
    assert 'untrusted_data source=\\"open_incidents\\"' in prompt
    assert all(f"{i.id} [" in prompt for i in open_now)
    (answer,) = bot_replies(bot, thread_ts)
    assert slot(answer) == "reply"


async def test_pane_question_is_titled_thinking_answered_once_and_audited(
    bot: Bot, llm: FakeAnthropic, record_property: pytest.RecordProperty
) -> None:
    thread_ts = await open_pane(bot)
    await bot.drain()
    asked_at = time.time()
    question = await say(bot, "How do I fail over the FIX gateway to the DR site?", thread_ts)
    # Slack retries the same event (our ack was slow): still one answer.
    assert await bot.event({**question, "channel_type": "im"}, retry=1) == 200
    await bot.drain()

    (title_call,) = bot.calls("assistant.threads.setTitle")
    assert title_call.params["thread_ts"] == thread_ts
    assert title_call.params["title"] == "How do I fail over the FIX gateway to the DR site?"
    statuses = [s for s in bot.sandbox.workspace.statuses if s.thread_ts == thread_ts]
    assert [s.status for s in statuses] == [THINKING, ""] and statuses[-1].cleared_by_post
    after_s = statuses[0].at - asked_at
    record_property("pane_status_after_question_s", round(after_s, 3))
    print(f"pane status set {after_s:.3f} s after the question (target ≤ {STATUS_TARGET_S} s)")
    assert after_s <= STATUS_TARGET_S

    (answer,) = bot_replies(bot, thread_ts)  # streamed into the pane's thread, once
    assert slot(answer) == "reply"
    assert bot.sandbox.workspace.streams[(DM, answer["ts"])].state == "completed"
    (start,) = bot.calls("chat.startStream")
    assert start.params["channel"] == DM and start.params["thread_ts"] == thread_ts
    streamed = answer["blocks"][0]["text"]
    assert "## Immediate actions" in streamed
    assert "fail over the FIX gateway" in json.dumps(llm.requests[-1]["body"]["messages"])
    (record,) = await audited(bot, "question")
    assert record["source"] == "assistant" and record["actor"] == ONCALL
    assert record["thread"] == f"{DM}:{thread_ts}" and record["text"] == streamed
    assert not bot.sandbox.rejected


async def test_followup_in_the_pane_remembers_the_thread(bot: Bot, llm: FakeAnthropic) -> None:
    thread_ts = await open_pane(bot)
    await say(bot, "What is our failover order for the FIX gateways?", thread_ts)
    await bot.drain()
    await say(bot, "and how long does the second step take?", thread_ts)
    await bot.drain()
    body = json.dumps(llm.requests[-1]["body"]["messages"])
    assert "failover order for the FIX gateways" in body  # the thread so far
    assert "how long does the second step take" in body
    assert [slot(m) for m in bot_replies(bot, thread_ts)] == ["reply", "reply"]  # streamed
    (followup,) = await audited(bot, "followup")
    assert followup["source"] == "assistant" and followup["thread"] == f"{DM}:{thread_ts}"
    assert len(bot.calls("assistant.threads.setTitle")) == 1  # named by its first question


async def test_top_level_dm_is_answered_in_its_thread_with_the_dm_source(bot: Bot) -> None:
    message = await say(bot, "What should I check before the market opens?", None)
    await bot.drain()
    replies = bot_replies(bot, message["ts"])
    assert [slot(m) for m in replies] == ["reply"]  # streamed in the DM's own thread
    (record,) = await audited(bot, "question")
    assert record["source"] == "dm" and record["thread"] == f"{DM}:{message['ts']}"
    assert not bot.calls("assistant.threads.setTitle")  # no pane, no title


async def test_someone_outside_the_command_channels_is_refused(
    bot: Bot, llm: FakeAnthropic
) -> None:
    stranger_dm = "D0STRANGER"
    thread_ts = await open_pane(bot, user=STRANGER, channel=stranger_dm)
    question = await say(
        bot, "Show me the risk limits", thread_ts, user=STRANGER, channel=stranger_dm
    )
    assert await bot.event({**question, "channel_type": "im"}, retry=1) == 200
    await bot.drain()
    (refusal,) = bot_replies(bot, thread_ts, stranger_dm)
    assert slot(refusal) == "denied"
    assert "Sorry" in blocks_text(refusal) and f"<#{ASK_CHANNEL}>" in blocks_text(refusal)
    assert llm.calls == 0 and not bot.calls("assistant.threads.setTitle")
    (denied,) = await audited(bot, "access_denied")
    assert denied["reason"] == "private_not_allowed" and denied["user"] == STRANGER
    assert await audited(bot, "question") == []


async def test_a_spent_budget_is_said_in_the_reply(bot: Bot, llm: FakeAnthropic) -> None:
    for n in range(3):  # WIZARD_LLM_MAX_PER_USER_HOUR=2
        await say(bot, f"question number {n} about the order gateway?", None)
        await bot.drain()
    assert llm.calls == 2
    answers = [
        blocks_text(m)
        for m in bot.sandbox.messages(DM, include_replies=True)
        if m.get("bot_id") == bot.sandbox.bot_id and slot(m) == "reply"
    ]
    assert len(answers) == 3
    assert "WIZARD_LLM_MAX_PER_USER_HOUR" in answers[-1]
    records = await audited(bot, "question")
    assert [r["fallback"] for r in records] == [False, False, True]


async def test_the_bots_own_messages_never_start_a_reply(bot: Bot, llm: FakeAnthropic) -> None:
    thread_ts = await open_pane(bot)
    await say(bot, "Is the FIX gateway healthy?", thread_ts)
    await bot.drain()
    posted = len(bot.sandbox.messages(DM, include_replies=True))
    # Slack delivers the bot's own replies back as message.im events: in the thread and top level.
    echoes = [*bot_replies(bot, thread_ts), {"text": "🧙 hello", "thread_ts": None}]
    for reply in echoes:
        own = {
            "type": "message",
            "user": bot.sandbox.bot_user_id,
            "bot_id": bot.sandbox.bot_id,
            "text": reply.get("text") or "answer",
        }
        if reply.get("thread_ts"):
            own["thread_ts"] = thread_ts
        echo = bot.sandbox.inject_message(DM, own)
        assert await bot.event({**echo, "channel_type": "im"}) == 200
    await bot.drain()
    assert llm.calls == 1
    assert len(bot.sandbox.messages(DM, include_replies=True)) == posted + len(echoes)


async def test_another_workspaces_pane_is_refused_before_any_listener(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client: Any, tmp_path: Path
) -> None:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=None,
        WIZARD_ALLOWED_TEAM_IDS=sandbox.team_id,
    )
    bot = await start_bot(settings, sandbox)
    try:
        started = {
            "type": "assistant_thread_started",
            "assistant_thread": {"user_id": ONCALL, "channel_id": DM, "thread_ts": "1.000100"},
            "event_ts": "1.000100",
        }
        status, _ = await bot.post_signed(event_body(started, event_id="EvX1", team_id="T0EVIL"))
        assert status == 200
        await bot.drain()
        assert not bot.calls("assistant.threads.setSuggestedPrompts")
        (denied,) = await audited(bot, "access_denied")
        assert denied["reason"] == "team_not_allowed"
        assert denied["what"] == "event assistant_thread_started"
    finally:
        await stop_bot(bot)


def test_the_manifest_asks_for_the_pane_its_events_and_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text())
    assert manifest["features"]["assistant_view"]["assistant_description"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_read_only_enabled"] is False
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"assistant_thread_started", "assistant_thread_context_changed", "message.im"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"assistant:write", "im:history", "chat:write", "channels:read", "groups:read"} <= scopes


async def test_a_slack_without_the_pane_methods_still_gets_its_answer(bot: Bot) -> None:
    for method in ("setSuggestedPrompts", "setTitle", "setStatus"):
        bot.sandbox.fail_next(f"assistant.threads.{method}", error="unknown_method", times=5)
    thread_ts = await open_pane(bot)
    await say(bot, "Is the FIX gateway healthy?", thread_ts)
    await bot.drain()
    assert not bot.sandbox.workspace.suggested_prompts and not bot.sandbox.workspace.titles
    (answer,) = bot_replies(bot, thread_ts)  # the placeholder, replaced in place by the answer
    assert slot(answer) == "reply" and answer.get("edited")
    assert "Immediate actions" in blocks_text(answer) or "Do now" in blocks_text(answer)
    (record,) = await audited(bot, "question")
    assert record["source"] == "assistant"
