"""The live value of the alert's own query in the analysis, with and without a model.

The real bot (real Redis, Slack sandbox, fake model behind the real SDK) gets an Alertmanager
webhook whose `generatorURL` points at a trap port; the pack asks only the configured real
Prometheus, and the posted analysis, the model's input and the audit record carry the reading.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import AnyHttpUrl

from bot.devtools.monitoring import Server
from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.evidence.conftest import ERROR_RATIO
from tests.evidence.test_pack import Trap
from tests.fakes.anthropic_api import FakeAnthropic, user_text
from tests.harness import ALERT_CHANNEL, settings_for, start_bot, stop_bot

PAYLOADS = Path(__file__).parents[2] / "bot" / "demo" / "payloads"


def _webhook(trap_port: int) -> dict[str, Any]:
    webhook: dict[str, Any] = json.loads((PAYLOADS / "05_alertmanager_webhook.json").read_text())
    alert = webhook["alerts"][0]
    alert["startsAt"] = datetime.now(UTC).isoformat()
    alert["generatorURL"] = (
        f"http://127.0.0.1:{trap_port}/graph?g0.expr={quote(ERROR_RATIO + ' > 0.05')}&g0.tab=1"
    )
    return webhook


@pytest.mark.parametrize("with_model", [True, False], ids=["model", "fallback"])
async def test_analysis_shows_the_live_value_of_the_alerts_query(
    with_model: bool,
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
    prometheus_server: Server,
    alertmanager_server: Server,
) -> None:
    trap = Trap()
    await trap.start()
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm if with_model else None,
        WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
        PROMETHEUS_URL=AnyHttpUrl(prometheus_server.url),
        ALERTMANAGER_URL=AnyHttpUrl(alertmanager_server.url),
    )
    bot = await start_bot(settings, sandbox)
    try:
        assert await bot.hook("/hooks/alertmanager", _webhook(trap.port)) == 200
        await bot.drain()
        (root,) = [m for m in sandbox.messages(ALERT_CHANNEL) if m.get("bot_id")]
        text = bot.answer_text(ALERT_CHANNEL, root["ts"])
        audit = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
    finally:
        await stop_bot(bot)
        await trap.stop()
    assert trap.connections == 0
    # Slack: the pack's section under the summary, with the query and a graph link …
    assert "*📈 Measured now*" in text
    assert "📈 *alert expression: PTPClockOffsetHigh* 0.073 now" in text
    assert "alert condition `&gt; 0.05` holds now" in text
    assert '`wizard_http_error_ratio{service="order-gateway"}`' in text
    assert f"<{prometheus_server.url}/graph?g0.expr=" in text and "|graph>" in text
    assert text.count("0.073 now") == 1  # … and not again in the Evidence list
    evidence = audit[0]["answer"]["evidence"]
    assert any("= 0.073 now" in line for line in evidence)
    if with_model:
        prompt = user_text(llm.requests[-1]["body"])
        assert '<untrusted_data source="evidence">' in prompt
        assert "= 0.073 now" in prompt
    else:
        assert "Runbook fallback" in text
