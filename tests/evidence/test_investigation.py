"""The model investigates with read-only tools: a scripted fake model behind the real SDK reads
the tools offered in the request, calls them, and checks what comes back — real Prometheus,
real Alertmanager, deploy history from the bot's Redis — while the thread shows each step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import AnyHttpUrl

from bot.devtools.monitoring import Server, post_alerts
from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.evidence.conftest import ERROR_RATIO
from tests.fakes.anthropic_api import FakeAnthropic, JSONDict, Scripted
from tests.fakes.anthropic_wire import tool_results
from tests.harness import ALERT_CHANNEL, Bot, blocks_text, settings_for, start_bot, stop_bot

PAYLOADS = Path(__file__).parents[2] / "bot" / "demo" / "payloads"
PLAN: list[tuple[str, JSONDict]] = [
    ("prometheus_query", {"query": ERROR_RATIO, "range_minutes": 5}),
    ("alertmanager_alerts", {"labels": {"service": "order-gateway"}}),
    ("deploy_history", {"service": "order-gateway", "hours": 6}),
    ("past_incidents", {"service": "order-gateway"}),
]


class PlannedModel:
    """Calls the planned tools it is offered, one per turn; records what it saw."""

    def __init__(self, plan: list[tuple[str, JSONDict]]) -> None:
        self.plan = plan
        self.offered: list[set[str]] = []
        self.seen: list[JSONDict] = []

    def __call__(self, body: JSONDict) -> Scripted | None:
        if (body.get("tool_choice") or {}).get("type") == "none":
            return None  # tools not allowed now: a model answers (the API guarantees it)
        offered = {str(t["name"]) for t in body.get("tools") or []}
        self.offered.append(offered)
        self.seen = tool_results(body)
        step = len(self.seen)
        if step < len(self.plan) and self.plan[step][0] in offered:
            return Scripted.tool_use(*self.plan[step])
        return None  # the answer


async def _bot(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    prometheus: Server,
    alertmanager: Server,
    **extra: Any,
) -> Bot:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        deadline_s=20,
        WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
        PROMETHEUS_URL=AnyHttpUrl(prometheus.url),
        ALERTMANAGER_URL=AnyHttpUrl(alertmanager.url),
        **extra,
    )
    return await start_bot(settings, sandbox)


async def _fire(bot: Bot) -> dict[str, Any]:
    deploy = json.loads((PAYLOADS / "01_deploy.json").read_text())
    deploy["at"] = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    assert await bot.hook("/hooks/deploy", deploy) == 200
    webhook: dict[str, Any] = json.loads((PAYLOADS / "05_alertmanager_webhook.json").read_text())
    webhook["alerts"][0]["startsAt"] = datetime.now(UTC).isoformat()
    assert await bot.hook("/hooks/alertmanager", webhook) == 200
    await bot.drain(timeout=30)
    (root,) = [m for m in bot.sandbox.messages(ALERT_CHANNEL) if m.get("bot_id")]
    return bot.answer(ALERT_CHANNEL, root["ts"])


async def test_model_calls_the_offered_tools_and_reads_real_answers(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
    prometheus_server: Server,
    alertmanager_server: Server,
) -> None:
    now = datetime.now(UTC)
    post_alerts(
        alertmanager_server.url,
        [
            {
                "labels": {"alertname": "OrderGatewayRejects", "service": "order-gateway"},
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(minutes=30)).isoformat(),
            }
        ],
    )
    model = PlannedModel(PLAN[:3])
    llm.planner = model
    bot = await _bot(sandbox, llm, redis_server, tmp_path, prometheus_server, alertmanager_server)
    try:
        answer = await _fire(bot)
        audit = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
        updates = [c.params.get("text", "") for c in bot.calls("chat.update")]
        posts = [c.params.get("text", "") for c in bot.calls("chat.postMessage")]
    finally:
        await stop_bot(bot)
    # it was offered the six tools (logs only with LOKI_URL), never forced to use one
    assert model.offered[0] == {
        "prometheus_query",
        "alertmanager_alerts",
        "deploy_history",
        "runbook_search",
        "past_incidents",
    }
    assert all("tool_choice" not in r["body"] for r in llm.requests)
    # what came back is real, redacted, wrapped as untrusted data
    prom, am, deploys = (str(r["content"]) for r in model.seen)
    assert '<untrusted_data source="tool prometheus_query">' in prom and "0.073" in prom
    assert "OrderGatewayRejects" in am and '"state":"active"' in am
    assert "2026.11.28-3" in deploys and "2026.11.27-1" in deploys
    assert not any(r.get("is_error") for r in model.seen)
    # the loop passed thinking back unchanged (the fake answers 400 otherwise) and answered
    assert len(llm.requests) == 4 and not audit[0]["fallback"]
    calls = audit[0]["tool_calls"]
    assert [c["tool"] for c in calls] == [
        "prometheus_query",
        "alertmanager_alerts",
        "deploy_history",
    ]
    assert all(len(c["result_sha256"]) == 64 and c["result_chars"] > 0 for c in calls)
    assert calls[0]["input"]["query"] == ERROR_RATIO and calls[0]["latency_ms"] >= 0
    # each step was shown in the thread while it ran, then replaced by the answer
    steps = " ".join(posts + updates)
    assert "querying Prometheus: wizard_http_error_ratio" in steps
    assert "reading Alertmanager" in steps and "reading deploy history" in steps
    assert "*Do now*" in blocks_text(answer) and "Looking into" not in blocks_text(answer)


async def test_past_the_budget_the_model_answers_with_what_it_has(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
    prometheus_server: Server,
    alertmanager_server: Server,
) -> None:
    greedy = PlannedModel(PLAN)  # wants four calls
    llm.planner = greedy
    bot = await _bot(
        sandbox,
        llm,
        redis_server,
        tmp_path,
        prometheus_server,
        alertmanager_server,
        WIZARD_TOOL_CALLS_MAX=2,
    )
    try:
        await _fire(bot)
        audit = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
    finally:
        await stop_bot(bot)
    assert [c["tool"] for c in audit[0]["tool_calls"]] == [
        "prometheus_query",
        "alertmanager_alerts",
    ]
    last = tool_results(llm.requests[-1]["body"])
    assert last[-1]["is_error"] and "tool budget spent (2 calls)" in str(last[-1]["content"])
    texts = [
        b.get("text", "")
        for b in llm.requests[-1]["body"]["messages"][-1]["content"]
        if b.get("type") == "text"
    ]
    assert texts == ["No more tool calls: give the final answer now."]
    assert llm.requests[-1]["body"]["tool_choice"] == {"type": "none"}
    assert all("tool_choice" not in r["body"] for r in llm.requests[:-1])
    assert not audit[0]["fallback"]
    first_user = llm.requests[0]["body"]["messages"][0]["content"]
    assert "at most 2 tool calls" in str(first_user)


async def test_a_wizard_question_may_check_a_metric_too(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
    prometheus_server: Server,
    alertmanager_server: Server,
) -> None:
    model = PlannedModel([("prometheus_query", {"query": ERROR_RATIO})])
    llm.planner = model
    bot = await _bot(sandbox, llm, redis_server, tmp_path, prometheus_server, alertmanager_server)
    try:
        await bot.command("what is the order-gateway error ratio right now?")
        await bot.drain(timeout=30)
        records = [r for r in await bot.runtime.audit.records() if r["kind"] == "question"]
    finally:
        await stop_bot(bot)
    assert len(records) == 1 and not records[0]["fallback"]
    assert [c["tool"] for c in records[0]["tool_calls"]] == ["prometheus_query"]
    assert "0.073" in str(model.seen[0]["content"])
    # the answer after the tool turn was streamed (each turn streams; tools run between them)
    assert [c.method for c in sandbox.calls].count("chat.startStream") == 1
    assert records[0]["text"] and all(r["body"]["stream"] for r in llm.requests)
    assert "at most 8 tool calls" in str(llm.requests[0]["body"]["messages"][0]["content"])
