"""Secrets planted in alerts, follow-ups and questions never leave the bot unmasked.

Every outward channel is checked: what Slack received, what the model received, the audit trail
(Redis stream and JSONL mirror) and the logs.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, settings_for, start_bot, stop_bot

PLANTED = [
    "xoxb-2384729384-8472938472-AbCdEfGhIjKlMnOpQrStUvWx",
    "xapp-1-A0WIZ-1234567890-abcdef0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "Z" * 36,
    "glpat-" + "x1" * 10,
    "sk-ant-api03-" + "q" * 40,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvbmNhbGwifQ.c2lnbmF0dXJlLXZhbHVlLTEyMzQ",
    "hunter2hunter2",  # as a URL password and a password= field
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",  # Stripe (detect-secrets plugin)
    "0123456789abcdef0123456789abcdef-us12",  # Mailchimp (detect-secrets plugin)
]


def _alert_with_secrets() -> dict:
    text = (
        f"*Alert:* order-gateway auth failures - `critical`\n*Description:* login with "
        f"token {PLANTED[0]} failed; app token {PLANTED[1]}; aws {PLANTED[2]}; "
        f"gh {PLANTED[3]}; gl {PLANTED[4]}; {PLANTED[5]}; Authorization: Bearer {PLANTED[6]}; "
        f"dsn postgres://oms:{PLANTED[7]}@db-1:5432/oms; stripe={PLANTED[8]} mc={PLANTED[9]}\n"
        "*Details:*\n  • *alertname:* `OrderGatewayAuthFailures`\n  • *service:* `order-gateway`\n"
    )
    return {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0ALERTMGR",
        "attachments": [
            {"title": "[FIRING:1] OrderGatewayAuthFailures (order-gateway prod)", "text": text}
        ],
    }


async def test_planted_secrets_never_leak(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client,
    tmp_path: Path,
) -> None:
    # Capture exactly what the bot's own log handler writes (same formatter, redaction
    # included), at DEBUG so third-party request/response logging is in it too.
    root = logging.getLogger()
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    bot = await start_bot(
        settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm),
        sandbox,
    )
    try:
        ts = await bot.post_alert(_alert_with_secrets())
        await bot.drain()
        followup = bot.sandbox.inject_message(
            ALERT_CHANNEL,
            {
                "type": "message",
                "user": "U0ONCALL",
                "text": f"should we rotate {PLANTED[0]} and password={PLANTED[7]}?",
                "thread_ts": ts,
            },
        )
        await bot.event(followup)
        await bot.command(f"is {PLANTED[2]} with secret {PLANTED[8]} still valid?")
        await bot.drain()
        llm_fail_before = len(llm.requests)
        llm.fail(500)
        # another service's alert (a new incident, so a new model call): the fallback path too
        again = json.loads(json.dumps(_alert_with_secrets()).replace("order-gateway", "fix-gw"))
        await bot.post_alert(again | {"text": "again"})
        await bot.drain()
        assert len(llm.requests) > llm_fail_before
        records = await bot.runtime.audit.records()
    finally:
        await stop_bot(bot)
        root.removeHandler(handler)
        root.setLevel(previous_level)

    outward = {
        "slack": json.dumps([c.params for c in sandbox.calls]),
        "model": json.dumps([r["body"] for r in llm.requests]),
        "audit_redis": json.dumps(records),
        "audit_file": "\n".join(p.read_text() for p in (tmp_path / "audit").glob("*.jsonl")),
        "logs": sink.getvalue(),
    }
    assert len(records) >= 4 and outward["audit_file"] and len(outward["logs"]) > 10_000
    leaks = {
        (where, secret) for where, text in outward.items() for secret in PLANTED if secret in text
    }
    assert leaks == set(), leaks
    # the masks are there: the secrets reached the model masked, not silently dropped
    assert outward["model"].count("[REDACTED:") >= len(PLANTED)
    assert "[REDACTED:" in outward["audit_redis"] and "[REDACTED:" in outward["logs"]
