"""Trading identifiers: tokens for the model and the audit trail, real values for the people."""

from __future__ import annotations

import json
import re
from typing import Any

import redis.asyncio as redis

from bot.context.pseudonyms import Pseudonyms
from bot.devtools.slack import SlackSandbox
from bot.redact import PSEUDONYM
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, settings_for, start_bot, stop_bot

IDS = ("ACC-778812", "5493001KJTIIGC8Y1R12", "ORD20261128-0042")


async def test_protect_and_reveal_round_trip(redis_client: redis.Redis) -> None:
    names = Pseudonyms(redis_client, "deployment-secret")
    text = f"reject on account {IDS[0]} LEI {IDS[1]} ClOrdID={IDS[2]}; p99 7ms"
    protected = await names.protect(text)
    for value in IDS:
        assert value not in protected
    assert len(PSEUDONYM.findall(protected)) == 3
    assert "p99 7ms" in protected
    assert await names.protect(text) == protected  # stable
    assert await names.protect(protected) == protected  # tokens are not re-tokenised
    assert await names.reveal(protected) == text
    other = Pseudonyms(redis_client, "deployment-secret")  # another replica: same tokens
    assert await other.protect(text) == protected
    # at rest the map holds ciphertext only; another key can neither read nor re-mint it
    stored = json.dumps(await redis_client.hgetall("wizard:pseudonyms"))
    assert not any(value in stored for value in IDS)
    stranger = Pseudonyms(redis_client, "another-secret")
    assert await stranger.reveal(protected) == protected
    assert await stranger.protect(text) != protected
    revealed = await names.reveal_obj({"blocks": [{"text": protected}]})
    assert revealed["blocks"][0]["text"] == text


async def test_model_and_audit_see_tokens_slack_sees_values(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    def echo_tokens(body: dict[str, Any]) -> dict[str, Any]:
        answer = FakeAnthropic.default_answer(llm, body)
        tokens = PSEUDONYM.findall(json.dumps(body["messages"]))
        answer["summary"] = "Rejects for " + ", ".join(tokens)
        return answer

    llm = FakeAnthropic(echo_tokens)
    async with llm:
        bot = await start_bot(
            settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm),
            sandbox,
        )
        try:
            message = {
                "type": "message",
                "subtype": "bot_message",
                "bot_id": "B0ALERTMGR",
                "attachments": [
                    {
                        "title": "[FIRING:1] OrderRejectsHigh (oms prod critical)",
                        "text": f"*Alert:* rejects for account {IDS[0]} LEI {IDS[1]} "
                        f"ClOrdID={IDS[2]} - `critical`\n*Details:*\n"
                        "  • *alertname:* `OrderRejectsHigh`\n  • *service:* `oms`\n",
                    }
                ],
            }
            ts = await bot.post_alert(message)
            await bot.drain()
            sent = json.dumps(llm.requests[-1]["body"])
            for value in IDS:
                assert value not in sent
            assert len(set(PSEUDONYM.findall(sent))) >= 3
            reply = bot.answer_text(ALERT_CHANNEL, ts)
            for value in IDS:
                assert value in reply
            assert not PSEUDONYM.search(reply)
            record = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"][-1]
            dumped = json.dumps(record)
            for value in IDS:
                assert value not in dumped
            assert re.search(r"ACCOUNT-[0-9a-f]{10}", record["answer"]["summary"])
        finally:
            await stop_bot(bot)
