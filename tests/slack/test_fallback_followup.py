"""Runbook-fallback mode (no model) in Slack: a follow-up gets the part of the runbook its
question is about, said to be the model-less answer — not the analysis's runbook re-posted."""

from __future__ import annotations

from bot.devtools.slack import SlackSandbox
from tests.harness import ALERT_CHANNEL, Bot, blocks_text
from tests.test_end_to_end import alert_message


async def test_a_fallback_followup_answers_its_question_not_the_whole_runbook(
    modelless_bot: Bot, sandbox: SlackSandbox
) -> None:
    bot = modelless_bot
    ts = await bot.post_alert(alert_message())
    await bot.settle()
    analysis = bot.answer_text(ALERT_CHANNEL, ts)
    human = sandbox.inject_message(
        ALERT_CHANNEL,
        {
            "type": "message",
            "user": "U0ONCALL",
            "text": "roll back now or wait for the open?",
            "thread_ts": ts,
        },
    )
    assert await bot.event(human) == 200
    await bot.drain()
    (first,) = bot.slot_messages(ALERT_CHANNEL, ts, "reply")
    (plan,) = bot.slot_messages(ALERT_CHANNEL, ts, "plan:reply")
    answer = blocks_text(first) + "\n" + blocks_text(plan)
    assert "The model is unavailable" in answer and "here is what I can tell you" in answer
    assert "Rollback" in blocks_text(first) and "Rollback target" in blocks_text(first)
    assert "Unchanged: see the analysis above" in answer  # the rest is not re-posted
    assert len(answer) < len(analysis)
    assert not [c for c in sandbox.calls if c.method == "chat.startStream"]  # no model: no stream
