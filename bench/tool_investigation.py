"""A model investigation with read-only tools, each model step 2 s: does it land in time, audited?

The real bot (embedded Redis, Slack sandbox, workers) with PROMETHEUS_URL and ALERTMANAGER_URL at
real Prometheus and Alertmanager binaries on loopback, and the fake model behind the real SDK
answering every request after `--step-s` seconds. The fake reads the tools offered in the request
and calls them in turn: run 1 plans 3 calls (Prometheus range query, Alertmanager alerts, deploy
history), run 2 a greedy 12 calls against WIZARD_TOOL_CALLS_MAX=8 (the loop must cut it and still
answer). Reports the time from the webhook to the posted answer against WIZARD_LLM_DEADLINE_S, the
audited tool calls, the thread's step notes, and whether the answer was the model's. Prints JSON.

    flock /tmp/wizard-bench.lock .venv/bin/python bench/tool_investigation.py \\
        --out bench/results/tool_investigation.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.fakes` and `tests.harness` live beside `bot`

from pydantic import AnyHttpUrl  # noqa: E402

from bench.evidence_common import am_webhook, emit  # noqa: E402
from bot.devtools.monitoring import (  # noqa: E402
    OGW,
    demo_exporter,
    eventually,
    start_alertmanager,
    start_prometheus,
)
from bot.devtools.slack import SlackSandbox  # noqa: E402
from bot.evidence.prometheus import PrometheusClient  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.store.embedded import EmbeddedRedis  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic, JSONDict, Scripted  # noqa: E402
from tests.fakes.anthropic_wire import tool_results  # noqa: E402
from tests.harness import ALERT_CHANNEL, settings_for, start_bot, stop_bot  # noqa: E402

ERRORS = f'sum(rate(http_requests_total{{{OGW},code=~"5.."}}[1m]))'
THREE: list[tuple[str, JSONDict]] = [
    ("prometheus_query", {"query": ERRORS, "range_minutes": 30}),
    ("alertmanager_alerts", {"labels": {"service": "order-gateway"}}),
    ("deploy_history", {"service": "order-gateway", "hours": 24}),
]


def planner(plan: list[tuple[str, JSONDict]]) -> Any:
    def next_turn(body: JSONDict) -> Scripted | None:
        if (body.get("tool_choice") or {}).get("type") == "none":
            return None  # tools not allowed now: a model answers (the API guarantees it)
        offered = {str(t["name"]) for t in body.get("tools") or []}
        step = len(tool_results(body))
        if step < len(plan) and plan[step][0] in offered:
            return Scripted.tool_use(*plan[step])
        return None

    return next_turn


async def one_run(
    label: str,
    plan: list[tuple[str, JSONDict]],
    *,
    step_s: float,
    deadline_s: float,
    urls: tuple[str, str],
    work: Path,
) -> dict[str, Any]:
    redis = EmbeddedRedis(work / label / "redis")  # a fresh store per run
    await redis.start()
    sandbox = SlackSandbox()
    await sandbox.start()
    llm = FakeAnthropic()
    await llm.start()
    llm.planner = planner(plan)
    llm.delay(step_s)
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis.url,
        data_dir=work / label,
        llm=llm,
        deadline_s=deadline_s,
        WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
        PROMETHEUS_URL=AnyHttpUrl(urls[0]),
        ALERTMANAGER_URL=AnyHttpUrl(urls[1]),
        WIZARD_TOOL_CALLS_MAX=8,
    )
    bot = await start_bot(settings, sandbox)
    try:
        deploy = {
            "service": "order-gateway",
            "version": "2026.12.02-1",
            "previous_version": "2026.12.01-4",
            "environment": "production",
            "actor": "ci",
            "at": (datetime.now(UTC) - timedelta(minutes=25)).isoformat(),
        }
        assert await bot.hook("/hooks/deploy", deploy) == 200
        started = time.perf_counter()
        assert (
            await bot.hook(
                "/hooks/alertmanager",
                am_webhook(
                    f"Bench{label}",
                    ERRORS,
                    summary="order-gateway 5xx above 5 %",
                    fingerprint=f"bench{label}0000",
                ),
            )
            == 200
        )
        answered = None
        deadline = time.monotonic() + deadline_s + 30
        while time.monotonic() < deadline:
            records = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
            if records:
                answered = time.perf_counter() - started
                break
            await asyncio.sleep(0.05)
        await bot.drain(timeout=30)
        record = records[0] if answered is not None else {}
        steps = [
            c.params.get("text", "")
            for c in bot.calls("chat.update") + bot.calls("chat.postMessage")
            if "Looking into" in str(c.params.get("text", ""))
        ]
    finally:
        await stop_bot(bot)
        await llm.stop()
        await sandbox.stop()
        await redis.stop()
    calls = record.get("tool_calls") or []
    return {
        "model_step_s": step_s,
        "deadline_s": deadline_s,
        "planned_tool_calls": len(plan),
        "answer_posted_s": round(answered, 2) if answered is not None else None,
        "within_deadline": answered is not None and answered <= deadline_s,
        "model_answer_not_fallback": record.get("fallback") is False,
        "model_requests": len(llm.requests),
        "audited_tool_calls": [
            {k: c[k] for k in ("tool", "ok", "result_chars", "latency_ms")}
            | {"sha256": c["result_sha256"][:12]}
            for c in calls
        ],
        "thread_step_notes": [s[:120] for s in steps],
        "cost_usd": record.get("cost_usd"),
    }


async def run(step_s: float, deadline_s: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="wizard-bench-tools-"))
    exporter = demo_exporter()
    am = start_alertmanager(work / "am")
    prom = start_prometheus(work / "prom", exporter.port, alertmanager_port=am.port)
    client = PrometheusClient(prom.url)
    try:
        await eventually("two scrapes", lambda: client.instant(ERRORS), bool, deadline_s=30)
        urls = (prom.url, am.url)
        three = await one_run(
            "three", THREE, step_s=step_s, deadline_s=deadline_s, urls=urls, work=work
        )
        greedy_plan = [THREE[i % 3] for i in range(12)]
        greedy = await one_run(
            "greedy",
            greedy_plan,
            step_s=step_s,
            deadline_s=deadline_s,
            urls=urls,
            work=work,
        )
    finally:
        await client.close()
        prom.stop()
        am.stop()
        exporter.stop()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_avg": os.getloadavg(),
        "three_tool_calls": three,
        "greedy_12_calls_budget_8": greedy,
        "target": "a 3-tool-call investigation with a 2 s model step lands within the deadline "
        "and is audited",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step-s", type=float, default=2.0)
    parser.add_argument("--deadline-s", type=float, default=25.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    configure_logging("ERROR")
    result = asyncio.run(run(args.step_s, args.deadline_s))
    return emit(result, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
