"""Does the live value of the alert's own query reach every analysis, with and without a model?

The real bot (embedded Redis, Slack sandbox, Bolt, workers) with PROMETHEUS_URL pointed at a real
Prometheus (Debian's binary, scraping the demo exporter) receives N Alertmanager webhooks, each
an incident of its own whose `generatorURL` carries one of four rules — and points at a decoy
host that must never be contacted. Run once with the fake model behind the real Anthropic SDK
and once with no model (runbook fallback). Counts analyses whose posted text shows the value
Prometheus returns for that rule's expression, right now. Prints JSON; `--out` writes it.

    flock /tmp/wizard-bench.lock .venv/bin/python bench/evidence_analyses.py \\
        --out bench/results/evidence_analyses.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
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
    start_prometheus,
)
from bot.devtools.slack import SlackSandbox  # noqa: E402
from bot.evidence.prometheus import PrometheusClient  # noqa: E402
from bot.evidence.queries import split_condition  # noqa: E402
from bot.evidence.reading import format_value  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.store.embedded import EmbeddedRedis  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic  # noqa: E402
from tests.harness import (  # noqa: E402
    ALERT_CHANNEL,
    blocks_text,
    settings_for,
    start_bot,
    stop_bot,
)

RULES = [
    f'sum(rate(http_requests_total{{{OGW},code=~"5.."}}[1m])) '
    f"/ sum(rate(http_requests_total{{{OGW}}}[1m])) > 0.05",
    "histogram_quantile(0.99, sum by (le) "
    f"(rate(order_gateway_ack_latency_seconds_bucket{{{OGW}}}[1m]))) > 0.005",
    'max(md_feed_lag_seconds{service="market-data-feed"}) > 0.005',
    f"max(node_ptp_offset_ns{{{OGW}}}) > 100000",
]


async def one_mode(with_model: bool, n: int, prometheus_url: str, work: Path) -> dict[str, Any]:
    redis = EmbeddedRedis(work / ("redis-model" if with_model else "redis-fallback"))
    await redis.start()  # a fresh store per mode
    sandbox = SlackSandbox()
    await sandbox.start()
    llm = FakeAnthropic() if with_model else None
    if llm is not None:
        await llm.start()
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis.url,
        data_dir=work / ("model" if with_model else "fallback"),
        llm=llm,
        deadline_s=20,
        WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
        PROMETHEUS_URL=AnyHttpUrl(prometheus_url),
        WIZARD_WORKERS=8,
        WIZARD_LLM_MAX_PER_HOUR=1000,
    )
    bot = await start_bot(settings, sandbox)
    prom = PrometheusClient(prometheus_url)
    shown = 0
    misses: list[str] = []
    try:
        started = time.perf_counter()
        for i in range(n):
            assert (
                await bot.hook(
                    "/hooks/alertmanager",
                    am_webhook(
                        f"BenchRule{i:03d}",
                        RULES[i % len(RULES)],
                        summary=f"BenchRule{i:03d} fired",
                        fingerprint=f"bench{i:011d}",
                    ),
                )
                == 200
            )
        await bot.drain(timeout=120)
        elapsed = time.perf_counter() - started
        roots = [m for m in sandbox.messages(ALERT_CHANNEL) if m.get("bot_id")]
        expected: list[str] = []
        for rule in RULES:
            condition = split_condition(rule)
            assert condition is not None
            series = await prom.instant(condition[0])
            expected.append(f"* {format_value(series[0].last, '')} now" if series else "(no value)")
        for root in roots:
            text = blocks_text(bot.answer(ALERT_CHANNEL, root["ts"]))
            found = re.search(r"BenchRule(\d{3})", text)
            want = expected[int(found.group(1)) % len(RULES)] if found else "(alert not named)"
            if "📈 *alert expression:" in text and want in text:
                shown += 1
            else:
                misses.append(f"wanted {want!r} in: {text[:300]}")
        fallbacks = sum(1 for r in await bot.runtime.audit.records() if r.get("fallback"))
    finally:
        await prom.close()
        await stop_bot(bot)
        if llm is not None:
            await llm.stop()
        await sandbox.stop()
        await redis.stop()
    return {
        "analyses": len(roots),
        "with_live_value": shown,
        "share": f"{100 * shown / max(1, len(roots)):.0f} %",
        "fallback_records": fallbacks,
        "model_requests": len(llm.requests) if llm is not None else 0,
        "seconds": round(elapsed, 1),
        "misses": misses[:3],
    }


async def run(n: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="wizard-bench-analyses-"))
    exporter = demo_exporter()
    prom_server = start_prometheus(work / "prom", exporter.port)
    prom = PrometheusClient(prom_server.url)
    try:
        for rule in RULES:
            condition = split_condition(rule)
            assert condition is not None
            await eventually(
                "rates over two scrapes",
                lambda expr=condition[0]: prom.instant(expr),
                lambda s: bool(s) and s[0].last is not None,
                deadline_s=30,
            )
        with_model = await one_mode(True, n, prom_server.url, work)
        without = await one_mode(False, n, prom_server.url, work)
    finally:
        await prom.close()
        prom_server.stop()
        exporter.stop()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_avg": os.getloadavg(),
        "alerts": n,
        "with_model": with_model,
        "without_model": without,
        "target": "100 % of analyses of alerts carrying a query show its live value",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    configure_logging("ERROR")
    result = asyncio.run(run(args.n))
    return emit(result, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
