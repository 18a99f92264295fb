"""market_impact end to end: the shipped catalog and freeze calendar, real calendars, real Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.catalog import ServiceCatalog
from bot.freeze import FreezeCalendar, FreezeStore
from bot.impact import market_impact
from bot.market.sessions import MarketClock
from bot.models import Deploy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clock() -> MarketClock:
    return MarketClock()


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return ServiceCatalog.load(ROOT / "catalog.yaml")


async def test_kafka_alert_on_new_years_eve_during_the_year_end_freeze(
    redis_client: redis.Redis, clock: MarketClock, catalog: ServiceCatalog
) -> None:
    at = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)  # NYSE open, London shut (half day)
    store = FreezeStore(redis_client, FreezeCalendar.load(ROOT / "freezes.yaml"))
    deploys = [
        Deploy(service="kafka", version="3.9.1", at=datetime(2026, 12, 31, 14, 0, tzinfo=UTC))
    ]
    impact = await market_impact(
        "kafka-cluster-eu1",
        "warning",
        at,
        catalog=catalog,
        clock=clock,
        freezes=store,
        deploys=deploys,
    )
    assert impact.service == "kafka" and impact.in_catalog and impact.tier == 1
    assert "XNYS" in impact.venues  # through its dependents: kafka itself lists no venue
    phases = {s.venue: s.phase for s in impact.sessions}
    assert phases["XNYS"] == "open" and phases["XLON"] == "closed"
    assert impact.assessment.severity == "critical"
    assert impact.assessment.raised_from == "warning"
    assert [w.id for w in impact.freezes] == ["year-end-2026"]
    assert any(a.startswith("Prefer rolling back") for a in impact.advice)
    assert any("kafka 3.9.1" in a and "prime suspect" in a for a in impact.advice)
    text = impact.prompt_text()
    assert text.startswith("Service: kafka (tier 1)")
    assert "Severity raised from warning to critical because:" in text
    assert "- XNYS open — closes 16:00 America/New_York" in text


async def test_unknown_service_keeps_severity_and_says_so(
    clock: MarketClock, catalog: ServiceCatalog
) -> None:
    at = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    impact = await market_impact("payroll", "high", at, catalog=catalog, clock=clock)
    assert not impact.in_catalog and impact.tier is None
    assert impact.sessions == [] and impact.freezes == []
    assert impact.assessment.severity == "high"
    assert impact.prompt_text() == "Service: payroll (not in catalog)\nSeverity: high."


async def test_weekend_alert_is_not_raised_and_says_fix_properly(
    clock: MarketClock, catalog: ServiceCatalog
) -> None:
    at = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Saturday
    impact = await market_impact("order-gateway", "warning", at, catalog=catalog, clock=clock)
    assert impact.assessment.severity == "warning"
    assert impact.advice == ["markets closed: time to fix properly, still record the change"]
    assert impact.slack_group == "S0ORDERGW"


def test_every_catalog_venue_is_a_real_calendar(
    clock: MarketClock, catalog: ServiceCatalog
) -> None:
    venues = {v for service in catalog.all() for v in service.venues}
    assert venues == {"XNYS", "XLON", "XETR", "XPAR", "XAMS", "CMES", "XTKS", "XHKG"}
    assert {clock.resolve(v) for v in venues} == venues
