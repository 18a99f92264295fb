"""The evidence pack against a real Prometheus and a real Alertmanager, and when they fail."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from bot.alertmanager_api import AlertmanagerClient
from bot.alerts.alertmanager import parse_webhook
from bot.catalog import EvidenceQuery, Service, ServiceCatalog
from bot.devtools.monitoring import Server, eventually, free_port, post_alerts
from bot.evidence.alertmanager import AlertmanagerReader
from bot.evidence.pack import EvidenceGatherer
from bot.evidence.prometheus import PrometheusClient
from bot.evidence.queries import split_condition
from bot.evidence.render import evidence_lines
from bot.models import Alert, AlertLinks, Context, Deploy
from tests.evidence.conftest import ERROR_RATIO, FIX_UP, P99, Recording


class Trap:
    """A TCP port that counts every connection made to it (and answers nothing)."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def trap() -> AsyncIterator[Trap]:
    box = Trap()
    await box.start()
    yield box
    await box.stop()


def _alert(**extra: Any) -> Alert:
    values: dict[str, Any] = {
        "source": "alertmanager",
        "status": "firing",
        "name": "OrderGatewayErrorRatioHigh",
        "service": "order-gateway",
        "fingerprint": uuid.uuid4().hex[:16],
        "labels": {"alertname": "OrderGatewayErrorRatioHigh", "service": "order-gateway"},
    }
    values.update(extra)
    return Alert(**values)


def _catalog() -> ServiceCatalog:
    return ServiceCatalog(
        [
            Service(
                name="order-gateway",
                owner="EU Order Entry",
                tier=1,
                queries=[
                    EvidenceQuery(
                        name="order ack p99", expr=P99, unit="seconds", warn=0.002, crit=0.005
                    ),
                    EvidenceQuery(
                        name="error ratio", expr=ERROR_RATIO, unit="ratio", warn=0.01, crit=0.05
                    ),
                ],
            ),
            Service(
                name="fix-engine",
                owner="Connectivity",
                tier=1,
                queries=[
                    EvidenceQuery(
                        name="FIX sessions logged on", expr=FIX_UP, unit="bool", crit=1, below=True
                    )
                ],
            ),
        ]
    )


async def test_alert_links_are_parsed_never_fetched(
    prometheus_server: Server, alertmanager_server: Server, trap: Trap
) -> None:
    """The expression comes from a link to 127.0.0.1:<trap>; only PROMETHEUS_URL is asked."""
    expr = quote(ERROR_RATIO + " > 0.05")
    alert = _alert(
        links=AlertLinks(
            source=f"http://127.0.0.1:{trap.port}/graph?g0.expr={expr}",
            dashboard=f"http://127.0.0.1:{trap.port}/d/ogw",
            runbook=f"http://127.0.0.1:{trap.port}/runbook",
        )
    )
    gatherer = EvidenceGatherer(
        prometheus=PrometheusClient(prometheus_server.url),
        alertmanager=AlertmanagerReader(alertmanager_server.url),
    )
    try:
        pack = await gatherer.gather(Context(alert=alert))
    finally:
        await gatherer.close()
    assert trap.connections == 0
    assert len(pack.readings) == 1, [(i.status, i.reason) for i in pack.items]
    (reading,) = pack.readings
    assert reading.origin == "alert" and reading.query == ERROR_RATIO
    assert reading.now == pytest.approx(0.073) and reading.verdict == "crit"
    line = evidence_lines(pack)[0]
    assert "= 0.073 now" in line and "alert condition `> 0.05` holds now" in line
    assert f"graph: {prometheus_server.url}/graph?g0.expr=" in line
    assert str(trap.port) not in " ".join(evidence_lines(pack))


async def test_catalog_signals_are_read_with_their_thresholds(prometheus_server: Server) -> None:
    gatherer = EvidenceGatherer(
        prometheus=PrometheusClient(prometheus_server.url), services=_catalog()
    )
    try:
        pack = await gatherer.gather(Context(alert=_alert()))
        fix = await gatherer.gather(
            Context(alert=_alert(name="FixSessionDown", service="fix-engine", labels={}))
        )
    finally:
        await gatherer.close()
    by_name = {i.name: i for i in pack.readings}
    assert by_name["order ack p99"].now == pytest.approx(0.0042)
    assert by_name["order ack p99"].verdict == "warn"
    assert by_name["error ratio"].verdict == "crit"
    lines = evidence_lines(pack)
    assert any(
        "order ack p99 = 4.2 ms now" in line and "WARN: above 2 ms" in line for line in lines
    )
    assert any("error ratio = 7.3 % now" in line and "CRIT: above 5 %" in line for line in lines)
    assert fix.readings[0].verdict == "ok" and "yes (1)" in evidence_lines(fix)[0]
    assert pack.gathered_ms < 2000


async def test_the_alerts_own_rule_from_prometheus_via_alertmanager(
    prometheus_server: Server, alertmanager_server: Server
) -> None:
    """Prometheus evaluates the rule and sends the alert; the pack reads its generatorURL."""
    reader = AlertmanagerReader(alertmanager_server.url)
    try:
        found = await eventually(
            "the rule's alert in Alertmanager",
            lambda: reader.alerts(['alertname="OrderGatewayErrorRatioHigh"']),
            bool,
            deadline_s=30,
        )
    finally:
        await reader.close()
    body = {"version": "4", "status": "firing", "alerts": [{**found[0], "status": "firing"}]}
    (alert,) = parse_webhook(body)
    assert alert.links.source and "g0.expr=" in alert.links.source
    gatherer = EvidenceGatherer(
        prometheus=PrometheusClient(prometheus_server.url),
        alertmanager=AlertmanagerReader(alertmanager_server.url),
    )
    try:
        pack = await gatherer.gather(Context(alert=alert))
    finally:
        await gatherer.close()
    assert pack.readings[0].now == pytest.approx(0.073)
    assert pack.readings[0].condition == "> 0.05"
    state = next(i for i in pack.items if i.source == "alertmanager")
    assert state.status == "ok" and "this alert is active, not silenced" in state.lines


async def test_silenced_inhibited_and_other_firing_alerts(alertmanager_server: Server) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)

    def am_alert(name: str, severity: str) -> dict[str, Any]:
        return {
            "labels": {"alertname": name, "service": service, "severity": severity},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=10)).isoformat(),
            "generatorURL": "http://prometheus.example/graph?g0.expr=up",
        }

    post_alerts(
        alertmanager_server.url,
        [am_alert("Down", "critical"), am_alert("Slow", "warning"), am_alert("Noisy", "info")],
    )
    async with AlertmanagerClient(alertmanager_server.url) as silencer:
        silence = await silencer.create_silence(
            {"alertname": "Noisy", "service": service}, timedelta(hours=1), "test", "noise"
        )
    reader = AlertmanagerReader(alertmanager_server.url)

    def mine(name: str, severity: str) -> Alert:
        return _alert(
            name=name,
            service=service,
            severity="warning",
            labels={"alertname": name, "service": service, "severity": severity},
        )

    try:
        await eventually(
            "inhibition and silence applied",
            lambda: reader.alerts([f'service="{service}"']),
            lambda found: sorted(a["status"]["state"] for a in found)
            == ["active", "suppressed", "suppressed"],
        )
        slow = await reader.state(mine("Slow", "warning"))
        noisy = await reader.state(mine("Noisy", "info"))
        down = await reader.state(mine("Down", "critical"))
        gone = await reader.state(mine("Vanished", "warning"))
    finally:
        await reader.close()
    assert any("INHIBITED by 1 other alert" in line for line in slow.lines)
    assert any(f"SILENCED by {silence}" in line for line in noisy.lines)
    assert any(
        "1 other alert(s) with service=" in line and "Down (critical)" in line
        for line in slow.lines
    )
    assert "no other alert with" in " ".join(down.lines)
    assert any(
        "2 other alert(s)" in line and "silenced or inhibited" in line for line in down.lines
    )
    assert "not active in Alertmanager" in gone.lines[0]


async def test_a_hanging_prometheus_costs_at_most_the_budget(recorder: Recording) -> None:
    deploy = Deploy(
        service="order-gateway", version="1.4.2", previous_version="1.4.1", at=datetime.now(UTC)
    )
    gatherer = EvidenceGatherer(
        prometheus=PrometheusClient(recorder.url + "/hang"),
        alertmanager=AlertmanagerReader(f"http://127.0.0.1:{free_port()}"),
        services=_catalog(),
    )
    started = time.perf_counter()
    try:
        pack = await gatherer.gather(Context(alert=_alert(), deploys=[deploy]))
    finally:
        await gatherer.close()
    elapsed = time.perf_counter() - started
    assert elapsed < 2.2
    statuses = {i.name: (i.status, i.reason) for i in pack.items}
    assert statuses["order ack p99"] == ("unavailable", "no answer within 1.5s")
    assert statuses["Alertmanager state"][0] == "unavailable"
    assert "cannot reach 127.0.0.1" in str(statuses["Alertmanager state"][1])
    lines = evidence_lines(pack)
    assert any(
        line.startswith("❔ order ack p99: not available (no answer within 1.5s)") for line in lines
    )
    assert any("1.4.1 -> 1.4.2" in line for line in lines)


async def test_the_total_budget_cuts_slow_sources(recorder: Recording) -> None:
    gatherer = EvidenceGatherer(
        prometheus=PrometheusClient(recorder.url + "/hang"),
        services=_catalog(),
        source_timeout_s=5,
        total_s=0.4,
    )
    started = time.perf_counter()
    try:
        pack = await gatherer.gather(Context(alert=_alert()))
    finally:
        await gatherer.close()
    assert time.perf_counter() - started < 1.0
    assert {i.reason for i in pack.items if i.source == "prometheus"} == {
        "not back within the pack's 0.4s budget"
    }


async def test_without_prometheus_the_queries_still_show_why() -> None:
    pack = await EvidenceGatherer(services=_catalog()).gather(Context(alert=_alert()))
    lines = evidence_lines(pack)
    assert any("order ack p99: not available (PROMETHEUS_URL is not set)" in line for line in lines)
    assert any(P99 in line for line in lines)


def test_split_condition_keeps_the_value_side() -> None:
    assert split_condition('rate(x{a=">"}[5m]) > 0.05') == ('rate(x{a=">"}[5m])', ">", 0.05)
    assert split_condition("min(up) < 1") == ("min(up)", "<", 1.0)
    assert split_condition("a > 1 and b > 2") is None
    assert split_condition("a > b") is None
    assert split_condition("sum(rate(x[5m]))") is None
