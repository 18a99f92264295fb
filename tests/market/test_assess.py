"""The market-timing rules, on real session states at fixed instants."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.market.assess import MARKETS_CLOSED_ADVICE, assess
from bot.market.sessions import MarketClock

NY = ZoneInfo("America/New_York")
LDN = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def clock() -> MarketClock:
    return MarketClock()


def test_tier1_while_open_is_at_least_critical(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=NY)
    result = assess("warning", 1, clock.sessions(["XNYS"], at), at)
    assert result.severity == "critical"
    assert result.raised_from == "warning"
    assert any("XNYS is trading" in r for r in result.reasons)


def test_tier2_while_open_is_high_and_tier3_unchanged(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=NY)
    states = clock.sessions(["XNYS"], at)
    assert assess("warning", 2, states, at).severity == "high"
    tier3 = assess("warning", 3, states, at)
    assert tier3.severity == "warning"
    assert tier3.raised_from is None


def test_tier1_within_fifteen_minutes_of_open_is_critical(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 9, 16, tzinfo=NY)  # 14 min before the open, opening auction
    result = assess("info", 1, clock.sessions(["XNYS"], at), at)
    assert result.severity == "critical"
    assert "XNYS opens in 14 min" in result.reasons
    # 40 minutes before: pre-open, not yet within the window, so not raised by the open rule
    early = datetime(2026, 11, 30, 8, 50, tzinfo=NY)
    assert assess("info", 1, clock.sessions(["XNYS"], early), early).severity == "info"


def test_closing_auction_means_critical_and_fail_over_not_restart(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 16, 32, tzinfo=LDN)
    result = assess("high", 2, clock.sessions(["XLON"], at), at)
    assert result.severity == "critical"
    assert "do not restart during the closing auction; fail over instead" in result.advice


def test_near_the_close_prefer_mitigation(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 15, 35, tzinfo=NY)  # 25 min to the close, before the auction
    result = assess("warning", 3, clock.sessions(["XNYS"], at), at)
    assert any(a.startswith("prefer mitigation") for a in result.advice)
    assert "XNYS closes in 25 min" in result.reasons
    assert result.severity == "warning"  # tier 3: advice only


def test_minutes_are_recomputed_from_at_not_taken_from_a_stale_state(clock: MarketClock) -> None:
    computed = datetime(2026, 11, 30, 15, 0, tzinfo=NY)  # 60 min to close
    states = clock.sessions(["XNYS"], computed)
    later = computed + timedelta(minutes=40)
    assert "XNYS closes in 20 min" in assess("warning", 3, states, later).reasons


def test_all_closed_on_a_weekend_does_not_raise(clock: MarketClock) -> None:
    at = datetime(2026, 11, 28, 12, 0, tzinfo=NY)
    result = assess("warning", 1, clock.sessions(["XNYS", "XLON", "XETR"], at), at)
    assert result.severity == "warning"
    assert result.raised_from is None
    assert result.advice == [MARKETS_CLOSED_ADVICE]


def test_holiday_on_one_venue_while_another_trades(clock: MarketClock) -> None:
    at = datetime(2026, 11, 26, 10, 0, tzinfo=LDN)  # Thanksgiving: NYSE shut, London trading
    result = assess("warning", 1, clock.sessions(["XNYS", "XLON"], at), at)
    assert result.severity == "critical"
    assert MARKETS_CLOSED_ADVICE not in result.advice


def test_severity_is_never_lowered(clock: MarketClock) -> None:
    at = datetime(2026, 11, 28, 12, 0, tzinfo=NY)
    assert assess("critical", 3, clock.sessions(["XNYS"], at), at).severity == "critical"


def test_unknown_tier_and_unknown_venue_raise_nothing_but_say_so(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=NY)
    result = assess("warning", None, clock.sessions(["XNYS", "MOON"], at), at)
    assert result.severity == "warning"
    assert "unknown venue MOON: market hours not checked" in result.reasons
    assert any("tier unknown" in r for r in result.reasons)


def test_no_venues_no_market_advice() -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=NY)
    result = assess("high", 1, [], at)
    assert (result.severity, result.reasons, result.advice) == ("high", [], [])
