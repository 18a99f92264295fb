"""The two stages end to end (real Redis, Bolt, the Slack sandbox and the fake model):

- cards never wait behind analyses: with the model stuck on two dozen `/wizard` questions, a new
  alert's summary card still lands at once;
- past `WIZARD_LLM_CONCURRENCY`, an analysis says in its thread that it waits for a model slot,
  then that message becomes the answer (one message, not two);
- follow-ups and questions draw from the per-user hourly cap, and the reply says so when spent.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bot.devtools.slack import SlackSandbox
from bot.pipeline.analysis import QUEUED_NOTE
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, ASK_CHANNEL, blocks_text, settings_for, start_bot, stop_bot

PAYLOADS = Path(__file__).parents[2] / "bot" / "demo" / "payloads"


def alert_message(n: int) -> dict[str, Any]:
    text = (PAYLOADS / "02_alertmanager_slack.json").read_text()
    text = text.replace("OrderGatewayLatencyHigh", f"OrderGatewayLatencyHigh{n}")
    return dict(json.loads(text.replace("order-gateway", f"order-gateway-{n}")))


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_alert_cards_do_not_wait_behind_questions(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    llm.hang()  # every model call stays outstanding
    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm, deadline_s=30
    )
    bot = await start_bot(settings, sandbox, workers=2)
    try:
        for n in range(24):
            await bot.command(f"how do I drain node {n} before the open?", user=f"U{n:04d}")
        await _until(lambda: llm.calls == 24)  # all 24 asked side by side, none answered
        ts = await bot.post_alert(alert_message(1))
        await _until(lambda: bool(bot.slot_messages(ALERT_CHANNEL, ts, "summary:")), 5)
        assert "Immediate actions" not in blocks_text(bot.summary(ALERT_CHANNEL, ts))
    finally:
        llm.reset()
        await stop_bot(bot)


async def test_analysis_past_the_concurrency_says_it_waits_then_answers_in_place(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    llm.delay(1.0)
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        deadline_s=10,
        WIZARD_LLM_CONCURRENCY=1,
    )
    bot = await start_bot(settings, sandbox)
    try:
        first = await bot.post_alert(alert_message(1))
        await _until(lambda: llm.calls == 1)
        second = await bot.post_alert(alert_message(2))
        await _until(
            lambda: any(
                QUEUED_NOTE in blocks_text(m)
                for m in bot.slot_messages(ALERT_CHANNEL, second, "analysis:")
            )
        )
        await bot.drain(timeout=20)
        for ts in (first, second):
            answer = bot.answer(ALERT_CHANNEL, ts)  # exactly one analysis message
            assert "fake model answer" in blocks_text(answer)  # the model's, not a fallback
            assert QUEUED_NOTE not in blocks_text(answer)
        # the queued notice was edited into the answer: one post for it, not two
        posts = bot.calls("chat.postMessage", lambda p: p.get("thread_ts") == second)
        assert len(posts) == 3  # summary card + analysis (first screen) + its full plan
        assert llm.calls == 2
    finally:
        await stop_bot(bot)


async def test_questions_draw_from_the_per_user_cap(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        WIZARD_LLM_MAX_PER_USER_HOUR=1,
    )
    bot = await start_bot(settings, sandbox)
    try:
        await bot.command("what is our failover order for the FIX gateways?", user="U0EAGER")
        await bot.drain()
        await bot.command("and for the market data feeds?", user="U0EAGER")
        await bot.command("how do I roll back a canary?", user="U0OTHER")
        await bot.drain()
        assert llm.calls == 2  # the eager user's second question did not reach the model
        answers = [
            blocks_text(m)
            for m in sandbox.messages(ASK_CHANNEL)
            if m.get("bot_id") == sandbox.bot_id and "Question from" in blocks_text(m)
        ]
        assert len(answers) == 3
        refused = [a for a in answers if "WIZARD_LLM_MAX_PER_USER_HOUR" in a]
        assert len(refused) == 1 and "U0EAGER" in refused[0]
        audit = [r for r in await bot.runtime.audit.records() if r["kind"] == "question"]
        assert sorted(r["fallback"] for r in audit) == [False, False, True]
    finally:
        await stop_bot(bot)
