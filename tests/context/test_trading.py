"""The trading enrichment at fixed instants: the real catalog.yaml, the real exchange calendars."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.catalog import ServiceCatalog
from bot.context.trading import TradingContext
from bot.market.sessions import MarketClock
from bot.models import Alert

CATALOG = Path(__file__).parents[2] / "catalog.yaml"


@pytest.fixture(scope="module")
def clock() -> MarketClock:
    return MarketClock()


def context_at(clock: MarketClock, when: datetime) -> TradingContext:
    return TradingContext(ServiceCatalog.load(CATALOG), clock, now=lambda: when)


def alert(service: str, severity: str = "warning") -> Alert:
    return Alert(
        source="alertmanager",
        status="firing",
        name="OrderGatewayLatencyHigh",
        severity=severity,  # type: ignore[arg-type]
        service=service,
        fingerprint=f"fp-{service}",
    )


async def test_tier1_alert_minutes_before_the_london_open_is_critical(clock: MarketClock) -> None:
    monday = datetime(2026, 11, 30, 7, 52, tzinfo=UTC)  # 07:52 London, LSE opens 08:00
    enrichment = await context_at(clock, monday)(alert("order-gateway"))
    assert enrichment.severity == "critical"
    # The owner group by name: it reads "@EU Order Entry" wherever Slack cannot resolve it.
    assert enrichment.owner_mention == "<!subteam^S0ORDERGW|@EU Order Entry>"
    # The first screen's impact/session line: short, with the most pressing venue.
    assert enrichment.headline is not None and len(enrichment.headline) <= 200
    assert (
        enrichment.headline.startswith("tier 1 · ")
        and "owner EU Order Entry" in enrichment.headline
    )
    assert "XLON opens in 8 min" in enrichment.headline
    assert enrichment.source_severity is not None and enrichment.source_severity != "critical"
    assert any(f.startswith("serves: order-gateway (tier 1)") for f in enrichment.facts)
    markets = [f for f in enrichment.facts if f.startswith("market: ")]
    assert any("XLON" in f for f in markets) and any("XETR" in f for f in markets)
    assert enrichment.severity_reason


async def test_the_same_alert_on_a_sunday_is_not_raised(clock: MarketClock) -> None:
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    enrichment = await context_at(clock, sunday)(alert("order-gateway"))
    assert enrichment.severity == "warning"
    assert any("markets closed" in g for g in enrichment.guidance)


async def test_closing_auction_advises_failover_not_restart(clock: MarketClock) -> None:
    auction = datetime(2026, 12, 1, 16, 32, tzinfo=UTC)  # LSE closing auction 16:30-16:35
    enrichment = await context_at(clock, auction)(alert("order-gateway"))
    assert enrichment.severity == "critical"
    assert any("auction" in g.lower() for g in enrichment.guidance)


async def test_a_service_outside_the_catalog_keeps_its_severity(clock: MarketClock) -> None:
    monday = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    enrichment = await context_at(clock, monday)(alert("billing-ui", "info"))
    assert enrichment.severity == "info" and enrichment.owner_mention is None
    assert "the alert's service is not in the service catalog" in enrichment.facts
    assert not any("billing-ui" in f for f in enrichment.facts)  # alert text stays untrusted
