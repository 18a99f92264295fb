"""Which expressions an alert carries, and the catalog's signals (pure functions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import ServiceCatalog
from bot.evidence.queries import Query, alert_queries, catalog_queries, exprs_in_url
from bot.evidence.reading import format_value, trend, verdict
from bot.models import Alert, AlertLinks

REPO = Path(__file__).resolve().parents[2]


def _alert(source: str | None = None, dashboard: str | None = None) -> Alert:
    return Alert(
        source="alertmanager",
        status="firing",
        name="OrderGatewayErrorRatioHigh",
        service="order-gateway",
        fingerprint="f1",
        links=AlertLinks(source=source, dashboard=dashboard),
    )


def test_generator_url_expression_is_taken_from_g0_expr() -> None:
    expr = 'sum(rate(http_requests_total{service="order-gateway",code=~"5.."}[5m])) > 0.05'
    url = f"http://prometheus-eu-1:9090/graph?g0.expr={quote(expr)}&g0.tab=1"
    assert exprs_in_url(url) == [("alert", expr)]
    (query,) = alert_queries(_alert(url))
    # the value side is read (the full rule returns nothing once it stops firing)
    assert query.expr == expr.removesuffix(" > 0.05") and query.condition == "> 0.05"
    assert query.crit == 0.05 and query.origin == "alert" and not query.trusted


def test_grafana_explore_links_give_their_queries() -> None:
    left = json.dumps({"datasource": "prom", "queries": [{"refId": "A", "expr": "up == 0"}]})
    panes = json.dumps({"x1": {"queries": [{"refId": "A", "expr": "node_load1 > 4"}]}})
    assert exprs_in_url(f"https://grafana/explore?left={quote(left)}") == [("grafana", "up == 0")]
    assert exprs_in_url(f"https://grafana/explore?panes={quote(panes)}") == [
        ("grafana", "node_load1 > 4")
    ]
    both = alert_queries(
        _alert(
            f"http://p/graph?g0.expr={quote('up == 0')}", f"https://g/explore?left={quote(left)}"
        )
    )
    assert [(q.expr, q.condition) for q in both] == [("up", "== 0")]  # the same one once


@given(st.text(max_size=300))
def test_any_link_text_parses_without_raising(text: str) -> None:
    for _, expr in exprs_in_url("http://x/graph?" + text):
        assert isinstance(expr, str)
    alert_queries(_alert("http://x/graph?g0.expr=" + text))


def test_overlong_or_control_expressions_are_dropped() -> None:
    assert alert_queries(_alert("http://x/graph?g0.expr=" + "a" * 2001)) == []
    (query,) = alert_queries(_alert("http://x/graph?g0.expr=up%00%0A%20%3D%3D%200"))
    assert (query.expr, query.condition) == ("up", "== 0")


def test_bundled_catalog_defines_golden_and_trading_signals() -> None:
    catalog = ServiceCatalog.load(REPO / "catalog.yaml")
    names = {s.name: [q.name for q in s.queries] for s in catalog.all()}
    ogw = " ".join(names["order-gateway"]).lower()
    assert "p99" in ogw and "error ratio" in ogw and "saturation" in ogw
    assert any("sequence gap" in n.lower() for n in names["fix-engine"])
    assert any("session" in n.lower() for n in names["fix-engine"])
    md = " ".join(names["market-data-feed"]).lower()
    assert "lag" in md and "gap" in md
    assert any("clock offset" in n.lower() for ns in names.values() for n in ns)
    for service in catalog.all():
        for query in catalog_queries(service):
            assert query.trusted and query.expr
            assert query.warn is not None or query.crit is not None, (service.name, query.name)


def test_catalog_rejects_a_query_without_expression(tmp_path: Path) -> None:
    from bot.yamldoc import DataFileError

    path = tmp_path / "catalog.yaml"
    path.write_text(
        "services:\n  a:\n    owner: x\n    tier: 1\n    queries:\n      - name: lag\n"
        "        unit: seconds\n"
    )
    with pytest.raises(DataFileError, match=r"catalog.yaml:6: .*expr"):
        ServiceCatalog.load(path)


def test_trend_finds_when_the_rise_began() -> None:
    t0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC).timestamp()
    samples = [(t0 + 60 * i, 0.004) for i in range(31)]
    samples += [(t0 + 60 * (31 + i), 0.004 + 0.01 * i) for i in range(1, 8)]
    direction, since = trend(samples)
    assert direction == "rising"
    assert since == datetime(2026, 12, 2, 9, 32, tzinfo=UTC)
    assert trend([(t0, 5.0), (t0 + 60, 5.2)]) == ("flat", None)
    assert trend([(t0, 5.0), (t0 + 60, 1.0)])[0] == "falling"
    assert trend([(t0, 5.0)]) == ("unknown", None)


def test_verdict_reads_upper_and_lower_bounds() -> None:
    upper = Query(name="p99", expr="x", origin="catalog", warn=0.005, crit=0.01)
    lower = Query(name="sessions", expr="x", origin="catalog", crit=1, below=True)
    assert verdict(0.02, upper) == "crit" and verdict(0.006, upper) == "warn"
    assert verdict(0.001, upper) == "ok"
    assert verdict(0, lower) == "crit" and verdict(1, lower) == "ok"


def test_values_are_written_as_a_dashboard_would() -> None:
    assert format_value(0.073, "ratio") == "7.3 %"
    assert format_value(0.0042, "seconds") == "4.2 ms"
    assert format_value(0.00085, "seconds") == "850 µs"
    assert format_value(3 * 2**30, "bytes") == "3 GiB"
    assert format_value(12.0, "count") == "12"
    assert format_value(None, "ratio") == "n/a"


def test_a_young_series_says_when_it_starts_instead_of_30_min_ago() -> None:
    from bot.evidence.models import EvidenceItem
    from bot.evidence.render import reading_line

    at = datetime(2026, 12, 2, 9, 40, tzinfo=UTC)
    item = EvidenceItem(
        source="prometheus",
        name="error ratio",
        query="x",
        unit="ratio",
        now=0.073,
        at=at,
        ago=0.004,
        ago_at=datetime(2026, 12, 2, 9, 10, tzinfo=UTC),
        trend="rising",
        since=datetime(2026, 12, 2, 9, 31, tzinfo=UTC),
        low=0.004,
        high=0.079,
    )
    line = reading_line(item)
    assert "error ratio = 7.3 % now, 0.4 % 30 min ago, rising since 09:31 UTC" in line
    assert "30 min range 0.4 %–7.9 %" in line
    young = item.model_copy(update={"ago_at": datetime(2026, 12, 2, 9, 38, tzinfo=UTC)})
    assert "0.4 % at 09:38:00 UTC (its first point)" in reading_line(young)
