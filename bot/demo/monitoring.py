"""Monitoring for the demo: a real Prometheus and Alertmanager when they are installed.

The demo should show the evidence pack doing its job, so when `PROMETHEUS_URL` is unset it
starts Debian's prometheus (scraping a local exporter of the demo's series: order-gateway p99 and
503s at market open, a risk-engine and a market-data feed) and prometheus-alertmanager on
loopback, and points the bot at them. When the binaries are absent it says so and runs without
readings (the analyses then show "not available (PROMETHEUS_URL is not set)"): a stand-in that
pretends to evaluate PromQL would show numbers no Prometheus produced.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import AnyHttpUrl

from bot.devtools.monitoring import (
    Exporter,
    Server,
    binaries_present,
    demo_exporter,
    eventually,
    post_alerts,
    start_alertmanager,
    start_prometheus,
)
from bot.evidence.prometheus import PrometheusClient
from bot.settings import Settings

DEMO_FIRING = [
    ("OrderGatewayLatencyHigh", "order-gateway", "critical"),
    ("OrderGatewayErrorRatioHigh", "order-gateway", "critical"),
    ("PTPClockOffsetHigh", "order-gateway", "warning"),
]
WARM_QUERY = 'sum(rate(http_requests_total{service="order-gateway"}[5m]))'


@dataclass
class DemoMonitoring:
    """What the demo started (to stop at the end) and the settings that point at it."""

    note: str
    updates: dict[str, Any] = field(default_factory=dict)
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stops):
            stop()


def _start(work: Path, exporter: Exporter) -> tuple[Server, Server]:
    alertmanager = start_alertmanager(work / "alertmanager")
    try:
        prometheus = start_prometheus(
            work / "prometheus", exporter.port, alertmanager_port=alertmanager.port
        )
    except BaseException:
        alertmanager.stop()
        raise
    return prometheus, alertmanager


async def start_demo_monitoring(settings: Settings) -> DemoMonitoring:
    """Real Prometheus + Alertmanager on loopback, unless configured or not installed."""
    if settings.prometheus_url is not None:
        return DemoMonitoring(f"evidence from PROMETHEUS_URL {settings.prometheus_url}")
    if not binaries_present():
        return DemoMonitoring(
            "no Prometheus here (Debian's prometheus / prometheus-alertmanager not installed): "
            "analyses show the catalog's queries as 'not available'"
        )
    work = Path(tempfile.mkdtemp(prefix="wizard-demo-monitoring-"))
    exporter = demo_exporter()
    prometheus, alertmanager = await asyncio.to_thread(_start, work, exporter)
    found = DemoMonitoring(
        f"real Prometheus {prometheus.url} scraping a local demo exporter of market-open "
        f"series, real Alertmanager {alertmanager.url}",
        _stops=[exporter.stop, alertmanager.stop, prometheus.stop],
    )
    client = PrometheusClient(prometheus.url)
    try:  # rate() needs two scrapes before the first reading means anything
        await eventually(
            "two scrapes", lambda: client.instant(WARM_QUERY), lambda s: bool(s), deadline_s=20
        )
    finally:
        await client.close()
    found.updates = {"prometheus_url": AnyHttpUrl(prometheus.url)}
    if settings.alertmanager_url is None:
        found.updates["alertmanager_url"] = AnyHttpUrl(alertmanager.url)
        # What the demo's Prometheus rules would have sent: the pack reads their state back.
        now = datetime.now(UTC)
        await asyncio.to_thread(
            post_alerts,
            alertmanager.url,
            [
                {
                    "labels": {"alertname": name, "service": service, "severity": severity},
                    "startsAt": (now - timedelta(minutes=2)).isoformat(),
                    "endsAt": (now + timedelta(hours=1)).isoformat(),
                }
                for name, service, severity in DEMO_FIRING
            ],
        )
    return found
