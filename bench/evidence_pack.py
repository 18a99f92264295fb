"""Evidence pack latency against a real Prometheus and Alertmanager on loopback.

Starts Debian's prometheus (scraping the demo exporter every second) and
prometheus-alertmanager, then gathers the pack for an order-gateway alert whose generatorURL
carries its rule (1 alert expression + the 5 catalog signals of catalog.yaml = 12 Prometheus
queries, + Alertmanager): N times one after another, then in bursts of C at once (market open),
side by side with the naive way (each query awaited in turn, no timeouts). Then the same with a
Prometheus that never answers. Prints JSON; `--out` writes it too.

    flock /tmp/wizard-bench.lock .venv/bin/python bench/evidence_pack.py \\
        --out bench/results/evidence_pack.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.catalog import ServiceCatalog
from bot.devtools.monitoring import (
    OGW,
    demo_exporter,
    eventually,
    post_alerts,
    start_alertmanager,
    start_prometheus,
)
from bot.evidence.alertmanager import AlertmanagerReader, service_filter
from bot.evidence.pack import EvidenceGatherer
from bot.evidence.prometheus import PrometheusClient
from bot.evidence.render import evidence_lines
from bot.logs import configure_logging
from bot.models import Alert, AlertLinks, Context

REPO = Path(__file__).resolve().parents[1]
RULE = (
    f'sum(rate(http_requests_total{{{OGW},code=~"5.."}}[1m])) '
    f"/ sum(rate(http_requests_total{{{OGW}}}[1m])) > 0.05"
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(_pct(ms, 0.95), 1),
        "p99_ms": round(_pct(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
    }


def _alert(prometheus_host: str) -> Alert:
    return Alert(
        source="alertmanager",
        status="firing",
        name="OrderGatewayErrorRatioHigh",
        severity="critical",
        service="order-gateway",
        environment="prod",
        fingerprint="bench-ogw-errors",
        labels={"alertname": "OrderGatewayErrorRatioHigh", "service": "order-gateway"},
        links=AlertLinks(source=f"http://{prometheus_host}/graph?g0.expr={quote(RULE)}"),
    )


async def naive(
    prom: PrometheusClient, am: AlertmanagerReader, gatherer: EvidenceGatherer, alert: Alert
) -> None:
    """The obvious code: every query awaited in turn, the SDK-default (no) timeout."""
    for query in gatherer.queries(alert):
        await prom.instant(query.expr, timeout_s=300)
        await prom.range(query.expr, timeout_s=300)
    await am.alerts(service_filter(alert), timeout_s=300)


async def hanging_server() -> tuple[web.AppRunner, str, asyncio.Event]:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}", release


async def run(n: int, burst: int, rounds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="wizard-bench-evidence-"))
    exporter = demo_exporter()
    am_server = start_alertmanager(work / "am")
    prom_server = start_prometheus(work / "prom", exporter.port, alertmanager_port=am_server.port)
    now = datetime.now(UTC)
    post_alerts(
        am_server.url,
        [
            {
                "labels": {"alertname": name, "service": "order-gateway", "severity": sev},
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
            }
            for name, sev in (
                ("OrderGatewayErrorRatioHigh", "critical"),
                ("OrderGatewayLatencyHigh", "warning"),
                ("OrderGatewayRejectsHigh", "warning"),
            )
        ],
    )
    catalog = ServiceCatalog.load(REPO / "catalog.yaml")
    prom = PrometheusClient(prom_server.url)
    am = AlertmanagerReader(am_server.url)
    gatherer = EvidenceGatherer(prometheus=prom, alertmanager=am, services=catalog)
    # A decoy host in the link: the pack must read the expression and ask only PROMETHEUS_URL.
    alert = _alert("prometheus.decoy.invalid:9090")
    context = Context(alert=alert)
    try:
        await eventually(
            "rates over two scrapes",
            lambda: prom.instant(RULE.removesuffix(" > 0.05")),
            lambda s: bool(s) and s[0].last is not None,
            deadline_s=30,
        )
        for _ in range(5):
            await gatherer.gather(context)
        sequential: list[float] = []
        live = 0
        for _ in range(n):
            started = time.perf_counter()
            pack = await gatherer.gather(context)
            sequential.append((time.perf_counter() - started) * 1000)
            own = [i for i in pack.readings if i.origin == "alert" and i.now is not None]
            live += bool(own)
        concurrent: list[float] = []
        for _ in range(rounds):

            async def one() -> float:
                started = time.perf_counter()
                await gatherer.gather(context)
                return (time.perf_counter() - started) * 1000

            concurrent += await asyncio.gather(*(one() for _ in range(burst)))
        naive_ms: list[float] = []
        for _ in range(max(10, n // 4)):
            started = time.perf_counter()
            await naive(prom, am, gatherer, alert)
            naive_ms.append((time.perf_counter() - started) * 1000)
        example = evidence_lines(pack)

        runner, hang_url, release = await hanging_server()
        hung = EvidenceGatherer(
            prometheus=PrometheusClient(hang_url),
            alertmanager=AlertmanagerReader(hang_url),
            services=catalog,
        )
        started = time.perf_counter()
        hung_pack = await hung.gather(context)
        hung_ms = (time.perf_counter() - started) * 1000
        cap = 10.0
        started = time.perf_counter()
        naive_prom, naive_am = PrometheusClient(hang_url), AlertmanagerReader(hang_url)
        try:
            await asyncio.wait_for(naive(naive_prom, naive_am, gatherer, alert), cap)
            naive_hung = f"{(time.perf_counter() - started):.1f} s"
        except TimeoutError:
            naive_hung = f"> {cap:g} s (still waiting when the bench gave up)"
        await naive_prom.close()
        await naive_am.close()
        release.set()
        await hung.close()
        await runner.cleanup()
    finally:
        await gatherer.close()
        prom_server.stop()
        am_server.stop()
        exporter.stop()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_avg": os.getloadavg(),
        "cpus": os.cpu_count(),
        "prometheus_queries_per_pack": 2 * len(gatherer.queries(alert)),
        "pack_sequential": _summary(sequential),
        f"pack_{burst}_at_once": _summary(concurrent),
        "naive_sequential_no_timeouts": _summary(naive_ms),
        "alert_query_live_value_in_packs": f"{live}/{n}",
        "hung_prometheus_pack_ms": round(hung_ms, 1),
        "hung_prometheus_items": sorted({f"{i.status}: {i.reason}" for i in hung_pack.items}),
        "hung_prometheus_naive": naive_hung,
        "example_lines": example,
        "target": "pack p95 <= 1000 ms against a real Prometheus on loopback",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    configure_logging("ERROR")
    result = asyncio.run(run(args.n, args.burst, args.rounds))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    sys.stdout.write(text + "\n")
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
