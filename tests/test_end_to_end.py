"""The bot end to end: signed Slack events in, threaded replies out, audit kept.

Real Redis, the real Bolt app behind the real aiohttp server, the real `AsyncWebClient` posting to
the local Slack sandbox, and the real Anthropic SDK calling the local fake Messages API.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.slack import SlackSandbox
from bot.pipeline.worker import ANALYSIS, FAST, Worker
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import (
    ALERT_CHANNEL,
    ASK_CHANNEL,
    Bot,
    blocks_text,
    settings_for,
    start_bot,
    stop_bot,
)

PAYLOADS = Path(__file__).resolve().parents[1] / "bot" / "demo" / "payloads"
FIVE_PARTS = (
    "Immediate actions",
    "Implementation plan",
    "Monitoring strategy",
    "Risk mitigation",
    "success criteria",
)


def alert_message(name: str = "OrderGatewayLatencyHigh", service: str = "order-gateway") -> dict:
    message = json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
    text = json.dumps(message).replace("OrderGatewayLatencyHigh", name)
    return json.loads(text.replace("order-gateway", service))


@pytest.fixture
async def bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> AsyncIterator[Bot]:
    settings = settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm)
    running = await start_bot(settings, sandbox)
    yield running
    await stop_bot(running)


async def test_alert_gets_threaded_answer_with_context_and_audit(
    bot: Bot, llm: FakeAnthropic
) -> None:
    started = time.perf_counter()
    ts = await bot.post_alert(alert_message())
    await bot.settle()
    replies = bot.thread(ALERT_CHANNEL, ts)
    # the incident summary card, then the analysis's first screen, then its full plan
    assert len(replies) == 3, replies
    summary, answer = bot.summary(ALERT_CHANNEL, ts), bot.answer(ALERT_CHANNEL, ts)
    assert [r["ts"] for r in replies] == [
        summary["ts"],
        answer["ts"],
        bot.plan(ALERT_CHANNEL, ts)["ts"],
    ]
    assert "Immediate actions" not in blocks_text(answer)  # the first screen is short
    text = bot.answer_text(ALERT_CHANNEL, ts)
    for part in FIVE_PARTS:
        assert part.lower() in text.lower(), part
    assert "OrderGatewayLatencyHigh" in text
    assert time.perf_counter() - started < 10
    # the summary is posted first and then updated in place once the analysis is in
    posts = bot.calls("chat.postMessage", lambda p: p.get("thread_ts") == ts)
    updates = bot.calls("chat.update", lambda p: p.get("ts") == summary["ts"])
    assert len(posts) == 3 and len(updates) >= 1
    assert "analysis 1×" in blocks_text(summary)
    # the model saw the alert as untrusted data after a cached, byte-stable system prefix
    request = llm.requests[-1]["body"]
    assert request["system"][-1]["cache_control"] == {"type": "ephemeral"}
    user_text = json.dumps(request["messages"])
    assert "untrusted_data" in user_text and "OrderGatewayLatencyHigh" in user_text
    # audit
    records = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
    assert len(records) == 1
    record = records[0]
    assert record["thread"] == f"{ALERT_CHANNEL}:{ts}"
    assert record["fallback"] is False
    assert record["model"] == "claude-sonnet-5-5"
    assert len(record["prompt_hash"]) == 64
    assert record["usage"]["input_tokens"] > 0
    assert float(record["cost_usd"]) > 0
    assert await bot.runtime.audit.verify() == (len(await bot.runtime.audit.records()), None)


async def test_retries_and_duplicates_give_one_reply(bot: Bot) -> None:
    posted = bot.sandbox.inject_message(ALERT_CHANNEL, alert_message())
    statuses = [await bot.event(posted, event_id="EvSAME")]
    statuses += [await bot.event(posted, event_id="EvSAME", retry=n) for n in (1, 2, 3)]
    statuses.append(await bot.event(posted, event_id="EvOTHER"))  # double delivery
    statuses += await asyncio.gather(*(bot.event(posted, event_id=f"EvC{n}") for n in range(10)))
    assert set(statuses) == {200}
    await bot.drain()
    assert len(bot.thread(ALERT_CHANNEL, posted["ts"])) == 3  # summary + analysis + plan
    assert len(bot.calls("chat.postMessage", lambda p: p.get("thread_ts") == posted["ts"])) == 3


async def test_llm_down_gives_fallback_in_time(bot: Bot, llm: FakeAnthropic) -> None:
    llm.fail(529)
    ts = await bot.post_alert(alert_message("KafkaConsumerLagHigh", "risk-engine"))
    await bot.drain()
    text = bot.answer_text(ALERT_CHANNEL, ts)
    assert "fallback" in text.lower()
    for part in FIVE_PARTS:
        assert part.lower() in text.lower()
    record = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"][-1]
    assert record["fallback"] is True
    assert "529" in record["fallback_reason"]


async def test_llm_slow_falls_back_within_a_second_of_deadline(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    llm.delay(30)
    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm, deadline_s=1.0
    )
    bot = await start_bot(settings, sandbox)
    try:
        started = time.perf_counter()
        ts = await bot.post_alert(alert_message())
        async with asyncio.timeout(10):
            while True:
                replies = bot.slot_messages(ALERT_CHANNEL, ts, "analysis:")
                if replies and "fallback" in blocks_text(replies[0]).lower():
                    break
                await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0 + 1.0, elapsed
    finally:
        llm.reset()
        await stop_bot(bot)


async def test_no_api_key_uses_runbook_fallback(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=None
    )
    bot = await start_bot(settings, sandbox)
    try:
        ts = await bot.post_alert(alert_message())
        await bot.drain()
        text = bot.answer_text(ALERT_CHANNEL, ts)
        assert "ANTHROPIC_API_KEY" in text
        assert "order-gateway" in text.lower()
    finally:
        await stop_bot(bot)


async def test_worker_killed_mid_job_completes_reply_exactly_once(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    llm.hang()
    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm, deadline_s=30
    )
    bot = await start_bot(settings, sandbox, workers=1)
    try:
        ts = await bot.post_alert(alert_message())
        async with asyncio.timeout(5):
            while not bot.thread(ALERT_CHANNEL, ts) or not llm.requests:
                await asyncio.sleep(0.02)
        placeholder = bot.thread(ALERT_CHANNEL, ts)[0]
        # the process dies while the analysis waits on the model: every worker task is killed,
        # the analysis (and possibly the fast job's tail) stays pending, unacked
        for task in bot.runtime.pool.tasks:
            task.cancel()
        await asyncio.gather(*bot.runtime.pool.tasks, return_exceptions=True)
        llm.reset()
        rescuers = [
            Worker(
                bot.runtime.redis,
                f"rescuer-{stage.name}",
                handler,
                stage=stage,
                claim_idle_ms=200,
                claim_every_s=0.1,
                block_ms=50,
            )
            for stage, handler in ((FAST, bot.runtime.processor), (ANALYSIS, bot.runtime.analyst))
        ]
        tasks = [asyncio.create_task(rescuer.run()) for rescuer in rescuers]
        try:
            await bot.drain(timeout=15)
        finally:
            for rescuer in rescuers:
                rescuer.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert rescuers[1].processed == 1  # the analysis was taken over and finished
        replies = bot.thread(ALERT_CHANNEL, ts)
        # the summary (posted before the crash, edited) + the analysis and its plan
        assert len(replies) == 3
        assert bot.summary(ALERT_CHANNEL, ts)["ts"] == placeholder["ts"]
        assert "Immediate actions" in bot.answer_text(ALERT_CHANNEL, ts)
        assert len(bot.calls("chat.postMessage", lambda p: p.get("thread_ts") == ts)) == 3
        triage = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
        assert len(triage) == 1
    finally:
        await stop_bot(bot)


async def test_crash_between_post_and_ledger_is_recovered_from_metadata(
    bot: Bot, llm: FakeAnthropic
) -> None:
    """A worker that died right after chat.postMessage left no ts in the ledger: the re-run
    finds its message through Slack message metadata and edits it."""
    ts = await bot.post_alert(alert_message())
    await bot.drain()
    ledger = bot.runtime.replier.ledger
    payload = bot.answer(ALERT_CHANNEL, ts)["metadata"]["event_payload"]
    job_id, slot = payload["job"], payload["slot"]
    assert job_id.startswith("an:")  # the analysis stage posted it, under its own job id
    await bot.runtime.redis.hdel(f"wizard:job:{job_id}", f"{slot}_ts")
    await ledger.set(job_id, **{f"{slot}_state": "posting"})
    found = await bot.runtime.replier.ensure(
        job_id,
        slot,
        channel=ALERT_CHANNEL,
        thread_ts=ts,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "again"}}],
        text="again",
    )
    replies = bot.slot_messages(ALERT_CHANNEL, ts, "analysis:")
    assert len(replies) == 1 and found == replies[0]["ts"]
    assert len(bot.thread(ALERT_CHANNEL, ts)) == 3


async def test_deploy_then_alert_rollback_target_is_previous_version(
    bot: Bot, llm: FakeAnthropic
) -> None:
    at = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    deploy = {
        "service": "order-gateway",
        "version": "2026.11.28-3",
        "previous_version": "2026.11.27-1",
        "environment": "production",
        "actor": "ci-bot",
        "at": at,
    }
    assert await bot.hook("/hooks/deploy", deploy) == 200
    llm.rollback_target = "9.9.9-invented"  # the model invents a version...
    ts = await bot.post_alert(alert_message())
    await bot.drain()
    text = bot.answer_text(ALERT_CHANNEL, ts)
    assert "2026.11.27-1" in text  # ...and it is replaced by the one from history
    # the note says a version was replaced, but never posts the invented one (issue 12)
    assert "9.9.9-invented" not in text and "not in the deploy history" in text
    prompt = json.dumps(llm.requests[-1]["body"]["messages"])
    assert "2026.11.27-1" in prompt and "ci-bot" in prompt


async def test_no_deploy_history_means_unknown_target(bot: Bot, llm: FakeAnthropic) -> None:
    llm.rollback_target = "1.2.3"
    ts = await bot.post_alert(alert_message("DiskFull", "oms-db"))
    await bot.drain()
    text = bot.answer_text(ALERT_CHANNEL, ts).lower()
    assert "unknown" in text
    record = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"][-1]
    assert record["answer"]["rollback"]["target_version"] is None


async def test_followup_in_thread_uses_memory(bot: Bot, llm: FakeAnthropic) -> None:
    ts = await bot.post_alert(alert_message())
    await bot.drain()
    question = bot.sandbox.inject_message(
        ALERT_CHANNEL,
        {
            "type": "message",
            "user": "U0ONCALL",
            "text": "Should we fail over to ogw-3?",
            "thread_ts": ts,
        },
    )
    assert await bot.event(question) == 200
    await bot.drain()
    replies = bot.thread(ALERT_CHANNEL, ts)
    # summary, triage and its plan, the human's question, the follow-up answer (streamed: one
    # message holding all five parts, bot/slack/streaming.py)
    assert len(replies) == 5
    assert "## Immediate actions" in replies[-1]["blocks"][0]["text"]
    body = json.dumps(llm.requests[-1]["body"]["messages"])
    assert "Should we fail over to ogw-3?" in body
    assert "OrderGatewayLatencyHigh" in body  # the alert context
    assert "[wizard]" in body  # the earlier wizard turn
    followups = [r for r in await bot.runtime.audit.records() if r["kind"] == "followup"]
    assert followups[0]["actor"] == "U0ONCALL"
    # a human chatting in an unrelated thread is not answered
    stray = bot.sandbox.inject_message(
        ASK_CHANNEL, {"type": "message", "user": "U1", "text": "lunch?", "thread_ts": "1.000001"}
    )
    await bot.event(stray)
    await bot.drain()
    assert bot.thread(ASK_CHANNEL, "1.000001") == []


async def test_mention_in_thread_and_message_event_answered_once(bot: Bot) -> None:
    ts = await bot.post_alert(alert_message())
    await bot.drain()
    human = bot.sandbox.inject_message(
        ALERT_CHANNEL,
        {"type": "message", "user": "U0ONCALL", "text": "<@U0WIZARD> rollback?", "thread_ts": ts},
    )
    mention = {**human, "type": "app_mention"}
    await asyncio.gather(bot.event(human), bot.event(mention))
    await bot.drain()
    wizard_replies = [m for m in bot.thread(ALERT_CHANNEL, ts) if m.get("bot_id")]
    assert len(wizard_replies) == 4  # summary + triage (2) + one follow-up answer (streamed: 1)


async def test_wizard_subcommands(bot: Bot, llm: FakeAnthropic) -> None:
    help_reply = await bot.command("help")
    assert help_reply["response_type"] == "ephemeral"
    assert "/wizard status" in json.dumps(help_reply)

    await bot.post_alert(alert_message())
    await bot.drain()
    status = await bot.command("status")
    assert "OrderGatewayLatencyHigh" in json.dumps(status)
    assert "1 open incident" in json.dumps(status) and "INC-1" in json.dumps(status)

    runbook = await bot.command("runbook kafka")
    assert "kafka" in json.dumps(runbook).lower()
    missing = await bot.command("runbook zzzzqqq-xylophone")
    assert "No runbook" in json.dumps(missing)

    ack = await bot.command("deploy our new algo to production with zero downtime")
    assert ack["response_type"] == "in_channel"
    await bot.drain()
    answers = [m for m in bot.sandbox.messages(ASK_CHANNEL) if m.get("bot_id")]
    assert len(answers) == 1
    thread = bot.sandbox.replies(ASK_CHANNEL, answers[0]["ts"])
    assert "Immediate actions" in blocks_text(thread[-1])  # the full plan, in its thread
    body = json.dumps(llm.requests[-1]["body"]["messages"])
    assert "zero downtime" in body
    record = [r for r in await bot.runtime.audit.records() if r["kind"] == "question"][-1]
    assert record["actor"] == "U0ONCALL" and "zero downtime" in record["question"]


async def test_question_where_bot_is_not_member_uses_response_url(bot: Bot) -> None:
    bot.sandbox.fail_next("chat.postMessage", error="not_in_channel")
    await bot.command("capacity plan for the FIX gateways next quarter?")
    await bot.drain()
    responses = bot.sandbox.responses
    assert any("Immediate actions" in json.dumps(r) for r in responses.values())


async def test_every_reply_has_an_audit_record(bot: Bot) -> None:
    for name, service in (
        ("OrderGatewayLatencyHigh", "order-gateway"),
        ("FixSessionDown", "fix-engine"),
        ("ClockDriftHigh", "ptp"),
    ):
        await bot.post_alert(alert_message(name, service))
    await bot.drain()
    await bot.command("latency spikes at market open, what do we check?")
    await bot.drain()

    def slot(message: dict) -> str:
        return str(((message.get("metadata") or {}).get("event_payload") or {}).get("slot"))

    bot_messages = [
        m
        for ch in (ALERT_CHANNEL, ASK_CHANNEL)
        for m in bot.sandbox.messages(ch, include_replies=True)
        if m.get("bot_id") == bot.sandbox.bot_id
    ]
    answers = [m for m in bot_messages if not slot(m).startswith(("summary:", "plan:", "question"))]
    answered = [r for r in await bot.runtime.audit.records() if r["kind"] in ("triage", "question")]
    assert len(answers) == len(answered) == 4
    plans = [m for m in bot_messages if slot(m).startswith("plan:")]
    assert len(plans) == 3  # each triage's full plan (the streamed answer is one message)
    headers = [m for m in bot_messages if slot(m) == "question"]
    assert len(headers) == 1  # the question, which the streamed answer is threaded under
    # and one incident summary card per alert
    assert len(bot_messages) == 3 * 2 + 1 + 1 + 3


async def test_hostile_and_malformed_requests_never_5xx(bot: Bot) -> None:
    cases: list[tuple[str, str]] = [
        ("{not json", "application/json"),
        ("[]", "application/json"),
        (json.dumps({"type": "event_callback"}), "application/json"),
        (
            json.dumps({"type": "event_callback", "event": "nope", "event_id": 3}),
            "application/json",
        ),
        (
            json.dumps(
                {
                    "type": "event_callback",
                    "event": {
                        "type": "message",
                        "channel": ALERT_CHANNEL,
                        "ts": 5,
                        "attachments": "x" * 10,
                        "subtype": ["bot_message"],
                    },
                }
            ),
            "application/json",
        ),
        (
            json.dumps(
                {
                    "type": "event_callback",
                    "event_id": "EvHuge",
                    "event": {
                        "type": "message",
                        "channel": ALERT_CHANNEL,
                        "ts": "9.1",
                        "bot_id": "B1",
                        "text": "🔥" * 200_000,
                    },
                }
            ),
            "application/json",
        ),
        (
            json.dumps(
                {"type": "event_callback", "event_id": "EvX", "event": {"type": "reaction_added"}}
            ),
            "application/json",
        ),
        (json.dumps({"type": "unknown_envelope"}), "application/json"),
        ("command=%2Fwizard&text=%00%01%02", "application/x-www-form-urlencoded"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (json.dumps({"type": "url_verification", "challenge": "abc123"}), "application/json"),
    ]
    for body, content_type in cases:
        status, text = await bot.post_signed(body, content_type)
        assert status < 500, (body[:80], status, text[:200])
    status, text = await bot.post_signed(
        json.dumps({"type": "url_verification", "challenge": "abc123"})
    )
    assert "abc123" in text
    # unsigned, wrongly signed, and replayed (stale timestamp) requests are refused
    body = json.dumps({"type": "event_callback", "event": {"type": "message"}})
    async with bot.session.post(f"{bot.base}/slack/events", data=body) as response:
        assert response.status == 401
    status, _ = await bot.post_signed(body, secret="wrong-secret")
    assert status == 401
    status, _ = await bot.post_signed(body, timestamp=int(time.time()) - 600)
    assert status == 401
    await bot.drain()
    health = await bot.session.get(f"{bot.base}/healthz")
    assert health.status == 200


async def test_hooks_require_token_and_validate(bot: Bot) -> None:
    webhook = json.loads((PAYLOADS / "05_alertmanager_webhook.json").read_text())
    webhook = json.loads(
        json.dumps(webhook).replace("__NOW_MINUS_2M__", datetime.now(UTC).isoformat())
    )
    assert await bot.hook("/hooks/alertmanager", webhook, token=None) == 401
    assert await bot.hook("/hooks/alertmanager", webhook, token="wrong") == 401
    assert await bot.hook("/hooks/alertmanager", {"no": "alerts"}) == 400
    assert await bot.hook("/hooks/deploy", {"service": "x"}) == 400
    assert await bot.hook("/hooks/alertmanager", webhook) == 200
    assert await bot.hook("/hooks/alertmanager", webhook) == 200  # duplicate delivery
    await bot.drain()
    record = await bot.runtime.store.get_alert("6a1f0c2d9b3e4f57")
    assert record is not None and record.alert.name == "PTPClockOffsetHigh"
    received = [r for r in await bot.runtime.audit.records() if r["kind"] == "alerts_received"]
    assert len(received) == 1


async def test_webhook_channel_posts_and_triages(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
    )
    bot = await start_bot(settings, sandbox)
    try:
        webhook: dict[str, Any] = json.loads(
            (PAYLOADS / "05_alertmanager_webhook.json").read_text()
        )
        webhook["alerts"][0]["startsAt"] = datetime.now(UTC).isoformat()
        assert await bot.hook("/hooks/alertmanager", webhook) == 200
        await bot.drain()
        roots = [m for m in sandbox.messages(ALERT_CHANNEL) if m.get("bot_id")]
        assert len(roots) == 1
        replies = bot.thread(ALERT_CHANNEL, roots[0]["ts"])
        assert len(replies) == 2 and "PTPClockOffsetHigh" in blocks_text(replies[0])
        record = await bot.runtime.store.get_alert("6a1f0c2d9b3e4f57")
        assert record is not None and record.occurrences == 1  # one delivery, counted once
        assert (record.channel, record.thread_ts) == (ALERT_CHANNEL, roots[0]["ts"])
    finally:
        await stop_bot(bot)


async def test_socket_mode_reconnects_by_itself(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        SLACK_APP_TOKEN="xapp-1-A0WIZ-1-test",
    )
    bot = await start_bot(settings, sandbox)
    try:
        await bot.runtime.start_socket_mode("xapp-1-A0WIZ-1-test", ping_interval=0.5)
        first = sandbox.inject_message(ALERT_CHANNEL, alert_message())
        envelope = await sandbox.send_envelope(
            {"type": "event_callback", "event_id": "EvSock1", "team_id": "T0WIZ", "event": first}
        )
        await sandbox.wait_for_ack(envelope, timeout=5)
        await sandbox.drop_connections()
        async with asyncio.timeout(20):
            while sandbox.connections_opened < 2:
                await asyncio.sleep(0.05)
        second = sandbox.inject_message(
            ALERT_CHANNEL, alert_message("FixSessionDown", "fix-engine")
        )
        envelope = await sandbox.send_envelope(
            {"type": "event_callback", "event_id": "EvSock2", "team_id": "T0WIZ", "event": second}
        )
        await sandbox.wait_for_ack(envelope, timeout=5)
        await bot.drain()
        assert len(bot.thread(ALERT_CHANNEL, first["ts"])) == 3  # summary + analysis + plan
        assert len(bot.thread(ALERT_CHANNEL, second["ts"])) == 3
        assert len(bot.calls("apps.connections.open")) >= 2
    finally:
        await stop_bot(bot)
