"""`/wizard freeze` end to end, and what a freeze changes in the answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, blocks_text, settings_for, start_bot, stop_bot

PAYLOADS = Path(__file__).parents[1] / "bot" / "demo" / "payloads"


async def test_freeze_on_status_alert_deploy_and_off(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    settings = settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm)
    bot = await start_bot(settings, sandbox)
    try:
        said = await bot.command("freeze on for 2h services order-gateway quarter-end close")
        assert said["response_type"] == "in_channel"
        assert "turned a change freeze ON" in said["text"] and "quarter-end close" in said["text"]
        status = await bot.command("freeze status")
        assert status["response_type"] == "ephemeral"
        assert "Change freeze in force" in status["text"]

        deploy = {
            "service": "order-gateway",
            "version": "2026.11.29-2",
            "previous_version": "2026.11.28-1",
            "actor": "ci-bot",
            "at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),  # inside the freeze
        }
        assert await bot.hook("/hooks/deploy", deploy) == 200
        message = json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
        ts = await bot.post_alert(message)
        await bot.settle()
        prompt = json.dumps(llm.requests[-1]["body"]["messages"])
        assert "quarter-end close" in prompt and "Change freeze in force" in prompt
        assert "happened during the freeze" in prompt  # the deploy made in the freeze is flagged
        assert "❄️ change freeze" in blocks_text(bot.summary(ALERT_CHANNEL, ts))
        assert "❄️ change freeze" in bot.answer_text(ALERT_CHANNEL, ts)

        off = await bot.command("freeze off")
        assert "lifted" in off["text"]
        assert "No change freeze in force" in (await bot.command("freeze status"))["text"]
        bad = await bot.command("freeze on for soon")
        assert bad["response_type"] == "ephemeral" and "cannot read duration" in bad["text"]
        changes = [r for r in await bot.runtime.audit.records() if r["kind"] == "freeze_changed"]
        assert [(c["action"], c["actor"]) for c in changes] == [
            ("on", "U0ONCALL"),
            ("off", "U0ONCALL"),
        ]
    finally:
        await stop_bot(bot)


async def test_only_privileged_users_change_freezes_when_configured(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=None,
        WIZARD_PRIVILEGED_USERS="U0BOSS",
    )
    bot = await start_bot(settings, sandbox)
    try:
        refused: dict[str, Any] = await bot.command("freeze on index rebalance", user="U0INTERN")
        assert refused["response_type"] == "ephemeral" and "Only the on-call" in refused["text"]
        assert "No change freeze in force" in (await bot.command("freeze status"))["text"]
        allowed = await bot.command("freeze on index rebalance", user="U0BOSS")
        assert "turned a change freeze ON" in allowed["text"]
        denials = [r for r in await bot.runtime.audit.records() if r["kind"] == "access_denied"]
        assert len(denials) == 1 and denials[0]["user"] == "U0INTERN"
    finally:
        await stop_bot(bot)
