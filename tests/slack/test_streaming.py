"""Streamed follow-ups and `/wizard` answers, end to end: the real bot, a real Redis, the local
Slack (chat.startStream / appendStream / stopStream) and the fake Anthropic API streaming at a
set pace. First words soon after the model's first token, every chunk guarded (a secret split
across two deltas included), the final message complete and audited once, a normal post where
the methods are missing, a replaced message when the model or Slack fails midway, and exactly
one stream when a job is reclaimed mid-answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.slack import SlackSandbox
from bot.pipeline.jobs import FollowupAnalysis
from bot.pipeline.questions import QUEUED_LOADING, QUEUED_NOTE
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic, Scripted
from tests.fakes.anthropic_stream import StreamPace
from tests.harness import ALERT_CHANNEL, ASK_CHANNEL, Bot, settings_for, start_bot, stop_bot
from tests.test_end_to_end import alert_message

FIRST_WORDS_TARGET_S = 2.0
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


@pytest.fixture
async def bot(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
) -> AsyncIterator[Bot]:
    running = await streaming_bot(sandbox, llm, redis_server, tmp_path)
    yield running
    await stop_bot(running)


async def streaming_bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis: EmbeddedRedis, path: Path, **extra: Any
) -> Bot:
    settings = settings_for(
        sandbox=sandbox, redis_url=redis.url, data_dir=path, llm=llm, deadline_s=15, **extra
    )
    return await start_bot(settings, sandbox)


async def alert_thread(bot: Bot) -> str:
    ts = await bot.post_alert(alert_message())
    await bot.settle()
    return ts


async def ask_in_thread(bot: Bot, ts: str, text: str) -> None:
    human = bot.sandbox.inject_message(
        ALERT_CHANNEL, {"type": "message", "user": "U0ONCALL", "text": text, "thread_ts": ts}
    )
    assert await bot.event(human) == 200
    await bot.drain(30)


def stream_calls(sandbox: SlackSandbox, since: int = 0) -> list[Any]:
    return [c for c in sandbox.calls[since:] if c.method in STREAM_METHODS]


def chunk_texts(call: Any) -> str:
    chunks = call.params.get("chunks") or []
    text = str(call.params.get("markdown_text") or "")
    return text + "".join(str(c.get("text") or "") for c in chunks if isinstance(c, dict))


def replies_in_slot(bot: Bot, channel: str, ts: str, slot: str) -> list[dict[str, Any]]:
    return [
        m
        for m in bot.thread(channel, ts)
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("slot") == slot
    ]


async def records(bot: Bot, kind: str) -> list[dict[str, Any]]:
    return [r for r in await bot.runtime.audit.records() if r["kind"] == kind]


async def test_followup_streams_first_words_fast_and_ends_complete_with_feedback(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    ts = await alert_thread(bot)
    llm.stream_pace(StreamPace(ttft_s=0.5, tokens_per_s=80))
    before = len(sandbox.calls)
    await ask_in_thread(bot, ts, "roll back now or wait for the open?")
    calls = stream_calls(sandbox, before)
    start, *appends, stop = calls
    assert start.method == "chat.startStream" and stop.method == "chat.stopStream"
    assert [c.method for c in appends] == ["chat.appendStream"] * len(appends) and appends
    assert start.params["thread_ts"] == ts
    assert start.params["recipient_user_id"] == "U0ONCALL"
    assert start.params["recipient_team_id"] == sandbox.team_id
    # first words: from the model's first text token to the first text Slack shows
    after_s = start.at - llm.streams.first_text_at[-1]
    print(f"first words {after_s:.3f} s after the model's first token")
    assert 0 <= after_s <= FIRST_WORDS_TARGET_S
    assert chunk_texts(start).strip()
    # one finished message in the reply slot: all the streamed text, then the blocks
    (answer,) = replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")
    assert sandbox.workspace.streams[(ALERT_CHANNEL, answer["ts"])].state == "completed"
    streamed = "".join(chunk_texts(c) for c in calls)
    assert answer["blocks"][0] == {"type": "markdown", "text": streamed}
    assert "## Immediate actions" in streamed and "roll back now or wait" in streamed
    types = [b["type"] for b in answer["blocks"]]
    assert "context_actions" in types  # feedback buttons
    assert "wizard_feedback_runbook" in json.dumps(answer["blocks"])
    # no second message for the follow-up (no plan: the stream is the whole answer)
    assert not replies_in_slot(bot, ALERT_CHANNEL, ts, "plan:reply")
    (record,) = await records(bot, "followup")
    assert record["text"] == streamed
    assert record["answer"]["immediate_actions"]  # the parts, parsed from the text
    assert record["fallback"] is False
    assert not sandbox.rejected


async def test_question_streams_under_a_header_in_its_thread(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    llm.stream_pace(StreamPace(ttft_s=0.2, tokens_per_s=200))
    await bot.command("how do we deploy the new algo with zero downtime?")
    await bot.drain(30)
    (header,) = [m for m in sandbox.messages(ASK_CHANNEL) if m.get("bot_id")]
    assert "Question from U0ONCALL" in header["text"]
    (answer,) = replies_in_slot(bot, ASK_CHANNEL, header["ts"], "reply")
    assert sandbox.workspace.streams[(ASK_CHANNEL, answer["ts"])].state == "completed"
    assert "zero downtime" in answer["blocks"][0]["text"]
    start = next(c for c in sandbox.calls if c.method == "chat.startStream")
    assert start.params["thread_ts"] == header["ts"]
    (record,) = await records(bot, "question")
    assert record["text"] == answer["blocks"][0]["text"]


async def test_every_chunk_is_guarded_and_a_secret_split_across_deltas_never_leaks(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    ts = await alert_thread(bot)
    secret = "xoxb-2231234567-98765432109-AbCdEfGhIjKlMnOp"
    text = (
        "Rotate the token first: it is " + secret + " in the config.\n"
        "Then page <!channel> and read https://evil.example/phish for details.\n"
        "db password: hunter2-very-secret\n"
        "## Immediate actions\n- Rotate it.\n"
    )
    llm.script(Scripted.answer(text=text))
    # one token (4 characters) per delta: the secret arrives in many pieces
    llm.stream_pace(StreamPace(ttft_s=0.1, tokens_per_s=400, tokens_per_delta=1))
    before = len(sandbox.calls)
    await ask_in_thread(bot, ts, "what now?")
    sent = [chunk_texts(c) for c in stream_calls(sandbox, before)]
    assert len(sent) >= 2
    everything = json.dumps([c.params for c in sandbox.calls[before:]])
    assert secret[5:] not in everything and "hunter2" not in everything
    assert "<!channel>" not in everything and "evil.example" not in everything
    (answer,) = replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")
    shown = answer["blocks"][0]["text"]
    assert "[REDACTED:slack-token]" in shown and "[mention removed]" in shown
    assert "[link removed]" in shown
    notes = json.dumps(answer["blocks"][1:])
    assert "Masked" in notes and "Removed" in notes  # the guard says what it removed


@pytest.mark.parametrize(
    "error", ["unknown_method", "not_allowed", "missing_scope", "method_deprecated"]
)
async def test_without_streaming_methods_the_answer_is_posted_normally(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic, error: str
) -> None:
    ts = await alert_thread(bot)
    sandbox.fail_next("chat.startStream", error=error, times=5)
    before = len(sandbox.calls)
    await ask_in_thread(bot, ts, "is it the deploy?")
    methods = [c.method for c in sandbox.calls[before:]]
    assert "chat.appendStream" not in methods and "chat.stopStream" not in methods
    (answer,) = replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")
    assert answer["blocks"][0]["type"] == "markdown"
    assert "## Immediate actions" in answer["blocks"][0]["text"]
    assert "context_actions" in [b["type"] for b in answer["blocks"]]
    (record,) = await records(bot, "followup")
    assert record["text"] == answer["blocks"][0]["text"]


async def test_model_failing_midstream_ends_with_the_fallback_answer_in_place(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    ts = await alert_thread(bot)
    llm.stream_pace(StreamPace(ttft_s=0.1, tokens_per_s=200), cut_after_chars=150)
    before = len(sandbox.calls)
    await ask_in_thread(bot, ts, "roll back now or wait for the open?")
    starts = [c for c in sandbox.calls[before:] if c.method == "chat.startStream"]
    assert len(starts) == 1  # text was shown before the model broke
    (answer,) = replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")
    assert sandbox.workspace.streams[(ALERT_CHANNEL, answer["ts"])].state == "completed"
    text = json.dumps(answer["blocks"])
    assert "Runbook fallback" in text  # the stated fallback, in place of the partial text
    assert answer["blocks"][0]["type"] != "markdown"
    assert replies_in_slot(bot, ALERT_CHANNEL, ts, "plan:reply")
    (record,) = await records(bot, "followup")
    assert record["fallback"] is True and record["text"] is None
    assert any("stopped mid-answer" in n for n in record["notes"])


async def test_slack_failing_midstream_replaces_the_half_message_with_the_whole_answer(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    ts = await alert_thread(bot)
    llm.stream_pace(StreamPace(ttft_s=0.1, tokens_per_s=150))
    sandbox.fail_next("chat.appendStream", error="internal_error", times=50)
    before = len(sandbox.calls)
    await ask_in_thread(bot, ts, "is it the deploy?")
    (answer,) = replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")
    (record,) = await records(bot, "followup")
    assert answer["blocks"][0] == {"type": "markdown", "text": record["text"]}
    assert "## Performance benchmarks" in record["text"]  # the end of the answer is there
    updates = [c for c in sandbox.calls[before:] if c.method == "chat.update"]
    assert [u.params["ts"] for u in updates] == [answer["ts"]]
    assert sandbox.workspace.streams[(ALERT_CHANNEL, answer["ts"])].state == "completed"


async def test_a_job_reclaimed_midstream_never_starts_a_second_stream(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    ts = await alert_thread(bot)
    llm.stream_pace(StreamPace(ttft_s=0.1, tokens_per_s=40))
    job = FollowupAnalysis(
        id="job-reclaimed-1",
        source_job="src-1",
        channel=ALERT_CHANNEL,
        thread_ts=ts,
        user="U0ONCALL",
        text="roll back now or wait for the open?",
    )
    before = len(sandbox.calls)
    first = asyncio.create_task(bot.runtime.analyst(job))
    await sandbox.wait_for(
        lambda: any(c.method == "chat.appendStream" for c in sandbox.calls[before:]), 20
    )
    first.cancel()  # the worker dies mid-answer; XAUTOCLAIM hands the job to another
    with pytest.raises(asyncio.CancelledError):
        await first
    await bot.runtime.analyst(job)
    starts = [c for c in sandbox.calls[before:] if c.method == "chat.startStream"]
    assert len(starts) == 1
    (answer,) = replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")
    assert sandbox.workspace.streams[(ALERT_CHANNEL, answer["ts"])].state == "completed"
    (record,) = await records(bot, "followup")
    assert answer["blocks"][0] == {"type": "markdown", "text": record["text"]}
    assert "## Performance benchmarks" in record["text"]
    # run once more (reclaimed after it finished): the same message, edited, one record
    await bot.runtime.analyst(job)
    assert len(replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")) == 1
    assert len(await records(bot, "followup")) == 1
    assert len([c for c in sandbox.calls[before:] if c.method == "chat.startStream"]) == 1


async def test_a_followup_waiting_for_a_model_slot_says_so_in_the_status_and_still_streams(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
) -> None:
    bot = await streaming_bot(sandbox, llm, redis_server, tmp_path, WIZARD_LLM_CONCURRENCY=1)
    try:
        ts = await alert_thread(bot)
        llm.stream_pace(StreamPace(ttft_s=0.8, tokens_per_s=150))
        before = len(sandbox.calls)
        for n, user in enumerate(("U0ONE", "U0TWO")):
            human = sandbox.inject_message(
                ALERT_CHANNEL,
                {"type": "message", "user": user, "text": f"roll back? ({n})", "thread_ts": ts},
            )
            assert await bot.event(human) == 200
        await bot.drain(30)
    finally:
        await stop_bot(bot)
    calls = sandbox.calls[before:]
    statuses = [c.params.get("loading_messages") for c in calls if "setStatus" in c.method]
    assert list(QUEUED_LOADING) in statuses  # the second one waited, and said so
    assert len([c for c in calls if c.method == "chat.startStream"]) == 2  # both streamed
    assert not [c for c in calls if QUEUED_NOTE in json.dumps(c.params)]  # no placeholder
    assert len(replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")) == 2


async def test_slack_not_answering_start_stream_gets_the_answer_posted_normally(
    bot: Bot, sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    ts = await alert_thread(bot)
    sandbox.drop_next("chat.startStream", times=20)  # connection reset past the SDK's retries
    before = len(sandbox.calls)
    await ask_in_thread(bot, ts, "is it the deploy?")
    methods = [c.method for c in sandbox.calls[before:]]
    assert "chat.startStream" in methods and "chat.appendStream" not in methods
    (answer,) = replies_in_slot(bot, ALERT_CHANNEL, ts, "reply")
    (record,) = await records(bot, "followup")
    assert answer["blocks"][0] == {"type": "markdown", "text": record["text"]}
