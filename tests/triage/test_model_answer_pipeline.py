"""Issue 10's target for the model call, measured where the data goes: a triage whose response
carries a thinking block and usage (1000 in, 500 out, 2000 cache read) for `claude-sonnet-5-5`
is posted in Slack as the model's answer and audited at $0.0074 (1000 × $2 + 500 × $10 + 2000 ×
$0.20, per million) — through the real pipeline: real Redis, the local Slack sandbox, the real
anthropic SDK against the fake API. And when the model stops without a usable answer, the
thread shows why and the audit record still carries what the call cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic, Scripted
from tests.harness import ALERT_CHANNEL, Bot, settings_for, start_bot, stop_bot
from tests.test_end_to_end import alert_message

USAGE = {
    "input_tokens": 1000,
    "output_tokens": 500,
    "cache_read_input_tokens": 2000,
    "cache_creation_input_tokens": 0,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "output_tokens_details": {"thinking_tokens": 180},
}


@pytest.fixture
async def bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> AsyncIterator[Bot]:
    settings = settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm)
    running = await start_bot(settings, sandbox)
    yield running
    await stop_bot(running)


async def triage_record(bot: Bot) -> dict[str, Any]:
    records = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
    assert len(records) == 1, records
    return records[0]


async def test_thinking_answer_is_posted_and_audited_at_published_price(
    bot: Bot, llm: FakeAnthropic
) -> None:
    llm.script(Scripted.answer(usage=USAGE))
    ts = await bot.post_alert(alert_message())
    await bot.settle()
    assert llm.calls == 1
    sent = llm.requests[0]["body"]
    assert sent["model"] == "claude-sonnet-5-5" and sent["thinking"] == {"type": "adaptive"}
    text = bot.answer_text(ALERT_CHANNEL, ts)
    assert "fake model answer" in text and "fallback" not in text.lower()
    assert "$0.0074" in text  # the footer
    record = await triage_record(bot)
    assert record["fallback"] is False and record["model"] == "claude-sonnet-5-5"
    assert record["cost_usd"] == "0.0074"
    usage = record["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (1000, 500)
    assert usage["cache_read_input_tokens"] == 2000 and usage["thinking_tokens"] == 180


async def test_cut_off_answer_falls_back_with_the_reason_and_the_cost(
    bot: Bot, llm: FakeAnthropic
) -> None:
    llm.script(Scripted.max_tokens(usage=USAGE))
    ts = await bot.post_alert(alert_message("KafkaConsumerLagHigh", "risk-engine"))
    await bot.settle()
    text = bot.answer_text(ALERT_CHANNEL, ts)
    assert "fallback" in text.lower() and "max_tokens" in text
    record = await triage_record(bot)
    assert record["fallback"] is True and "WIZARD_LLM_MAX_TOKENS" in record["fallback_reason"]
    assert record["cost_usd"] == "0.0074" and record["model"] == "claude-sonnet-5-5"
    assert record["usage"]["input_tokens"] == 1000 and record["usage"]["output_tokens"] == 500
