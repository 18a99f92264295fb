"""Feedback on an answer: the click is audited with who and which answer, counted in /metrics,
and exported as an evaluation set joined with the answer it judged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.audit.commands import export_report
from bot.render.feedback import ACTION_FEEDBACK, ACTION_WRONG_RUNBOOK
from tests.harness import ALERT_CHANNEL, Bot
from tests.test_end_to_end import alert_message


@pytest.fixture
def bot(modelless_bot: Bot) -> Bot:
    """A bot without a model (tests/slack/conftest.py)."""
    return modelless_bot


def _buttons(message: dict) -> dict[str, str]:
    """verdict → button value, read off the posted first screen."""
    values: dict[str, str] = {}
    for block in message["blocks"]:
        for element in block.get("elements") or []:
            if element.get("type") == "feedback_buttons":
                values["helpful"] = element["positive_button"]["value"]
                values["not_helpful"] = element["negative_button"]["value"]
            if element.get("action_id") == ACTION_WRONG_RUNBOOK:
                values["wrong_runbook"] = element["value"]
    return values


async def _metric(bot: Bot, verdict: str) -> float:
    async with bot.session.get(f"{bot.base}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(f'wizard_feedback_total{{verdict="{verdict}"}}'):
            return float(line.split()[-1])
    return 0.0


async def test_feedback_is_audited_counted_and_exported(bot: Bot, tmp_path: Path) -> None:
    ts = await bot.post_alert(alert_message("KafkaConsumerLagHigh", "risk-engine"))
    await bot.settle()
    first = bot.answer(ALERT_CHANNEL, ts)
    buttons = _buttons(first)
    assert set(buttons) == {"helpful", "not_helpful", "wrong_runbook"}
    before = await _metric(bot, "not_helpful")

    status, _ = await bot.click(ACTION_FEEDBACK, buttons["not_helpful"], message_ts=first["ts"])
    assert status == 200
    status, _ = await bot.click(
        ACTION_WRONG_RUNBOOK, buttons["wrong_runbook"], user="U0SRE2", message_ts=first["ts"]
    )
    assert status == 200
    status, _ = await bot.click(ACTION_FEEDBACK, "helpful|", message_ts=first["ts"])  # malformed
    assert status == 200

    records = [r for r in await bot.runtime.audit.records() if r["kind"] == "feedback"]
    assert [(r["verdict"], r["actor"]) for r in records] == [
        ("not_helpful", "U0ONCALL"),
        ("wrong_runbook", "U0SRE2"),
    ]
    # the analysis stage posted the answer, under the analysis job's id (named after the alert's)
    assert records[0]["answer_ref"] == f"an:INC-1:msg:{ALERT_CHANNEL}:{ts}:analysis:INC-1"
    assert records[0]["thread"] == f"{ALERT_CHANNEL}:{first['ts']}"
    assert await _metric(bot, "not_helpful") == before + 1

    out = tmp_path / "eval"
    now = datetime.now(UTC)
    report = await export_report(
        bot.runtime.redis,
        out,
        since=now - timedelta(hours=1),
        until=now + timedelta(hours=1),
        thread=None,
        feedback=True,
    )
    assert report["feedback"] == {"not_helpful": 1, "wrong_runbook": 1}
    lines = [json.loads(line) for line in (out / "feedback-eval.jsonl").read_text().splitlines()]
    assert [e["verdict"] for e in lines] == ["not_helpful", "wrong_runbook"]
    for entry in lines:  # each verdict carries the answer it judged
        assert entry["kind"] == "triage" and entry["runbook"] == "kafka-consumer-lag"
        assert entry["answer"]["immediate_actions"]
        assert entry["prompt_hash"] and entry["thread"] == f"{ALERT_CHANNEL}:{ts}"
