"""Market sessions at fixed instants, against the real exchange-calendars data.

Every time here is fixed (no `now()`), so the tests mean the same thing whenever they run; the
calendars are loaded for the instant's own year, so they keep working after 2027.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.market.sessions import MarketClock, UnknownVenueError
from bot.market.venues import resolve_venue, venue_table
from bot.yamldoc import DataFileError

NY = ZoneInfo("America/New_York")
LDN = ZoneInfo("Europe/London")
TYO = ZoneInfo("Asia/Tokyo")
BER = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def clock() -> MarketClock:
    return MarketClock()


def test_nyse_open_midday_on_a_normal_weekday(clock: MarketClock) -> None:
    state = clock.session("XNYS", datetime(2026, 11, 30, 12, 0, tzinfo=NY))
    assert state.phase == "open"
    assert not state.is_half_day
    assert state.minutes_to_close == 240
    assert state.minutes_to_open is None
    assert state.next_close == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    assert state.next_open == datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    assert state.label == "XNYS open — closes 16:00 America/New_York in 4 h 00 min"


def test_nyse_ten_minutes_before_open_is_the_opening_auction(clock: MarketClock) -> None:
    state = clock.session("NYSE", datetime(2026, 11, 30, 9, 20, tzinfo=NY))
    assert state.venue == "XNYS"
    assert state.phase == "opening_auction"
    assert state.minutes_to_open == 10
    assert state.next_open == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    assert "opens 09:30 America/New_York in 10 min" in state.label


def test_nyse_early_morning_is_pre_open_then_closed_before_that(clock: MarketClock) -> None:
    assert clock.session("XNYS", datetime(2026, 11, 30, 9, 0, tzinfo=NY)).phase == "pre_open"
    early = clock.session("XNYS", datetime(2026, 11, 30, 6, 0, tzinfo=NY))
    assert early.phase == "closed"
    assert early.minutes_to_open == 210


def test_nyse_closing_auction_imbalance_window(clock: MarketClock) -> None:
    state = clock.session("XNYS", datetime(2026, 11, 30, 15, 55, tzinfo=NY))
    assert state.phase == "closing_auction"
    assert state.minutes_to_close == 5
    assert state.phase_end == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    assert "15:50–16:00" in state.label
    # one minute before the imbalance period it is plain continuous trading
    assert clock.session("XNYS", datetime(2026, 11, 30, 15, 49, tzinfo=NY)).phase == "open"


def test_nyse_christmas_is_a_holiday(clock: MarketClock) -> None:
    state = clock.session("XNYS", datetime(2026, 12, 25, 12, 0, tzinfo=NY))
    assert state.phase == "holiday"
    assert state.next_open == datetime(2026, 12, 28, 14, 30, tzinfo=UTC)
    assert state.minutes_to_close is None
    assert state.label.startswith("XNYS holiday — opens Mon 28 Dec 09:30 America/New_York")


def test_nyse_day_after_thanksgiving_is_a_half_day(clock: MarketClock) -> None:
    state = clock.session("XNYS", datetime(2026, 11, 27, 12, 30, tzinfo=NY))
    assert state.phase == "open"
    assert state.is_half_day
    assert state.minutes_to_close == 30
    assert state.next_close == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert state.label.endswith("(half day)")
    # the closing auction moves with the early close
    auction = clock.session("XNYS", datetime(2026, 11, 27, 12, 55, tzinfo=NY))
    assert auction.phase == "closing_auction"
    assert "12:50–13:00" in auction.label


def test_nyse_weekend(clock: MarketClock) -> None:
    state = clock.session("XNYS", datetime(2026, 11, 28, 12, 0, tzinfo=NY))
    assert state.phase == "weekend"
    assert state.next_open == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    assert state.minutes_to_open == 45 * 60 + 30


def test_lse_closing_auction_runs_after_the_continuous_close(clock: MarketClock) -> None:
    state = clock.session("LSE", datetime(2026, 11, 30, 16, 32, tzinfo=LDN))
    assert state.venue == "XLON"
    assert state.phase == "closing_auction"
    assert state.minutes_to_close is None  # continuous trading ended at 16:30
    assert state.phase_end == datetime(2026, 11, 30, 16, 35, tzinfo=UTC)
    assert "16:30–16:35 Europe/London" in state.label
    after = clock.session("XLON", datetime(2026, 11, 30, 16, 36, tzinfo=LDN))
    assert after.phase == "closed"


def test_lse_christmas_eve_half_day_auction(clock: MarketClock) -> None:
    state = clock.session("XLON", datetime(2026, 12, 24, 12, 31, tzinfo=LDN))
    assert state.phase == "closing_auction"
    assert state.is_half_day
    assert "12:30–12:35" in state.label


def test_tokyo_lunch_break(clock: MarketClock) -> None:
    state = clock.session("XTKS", datetime(2026, 11, 30, 12, 0, tzinfo=TYO))
    assert state.phase == "break"
    assert state.minutes_to_open == 30
    assert state.next_open == datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
    assert state.minutes_to_close == 210  # 15:30 close since the 2024 extension
    assert "reopens 12:30 Asia/Tokyo" in state.label


def test_xetra_by_friendly_name_in_its_closing_auction(clock: MarketClock) -> None:
    state = clock.session("xetra", datetime(2026, 11, 30, 17, 33, tzinfo=BER))
    assert (state.venue, state.phase) == ("XETR", "closing_auction")


def test_naive_times_are_refused(clock: MarketClock) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.session("XNYS", datetime(2026, 11, 30, 12, 0))


def test_unknown_venue_errors_alone_and_is_a_state_in_a_list(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    with pytest.raises(UnknownVenueError, match="unknown venue 'MOON'"):
        clock.session("MOON", at)
    states = clock.sessions(["XNYS", "MOON", "NYSE"], at)
    assert [s.venue for s in states] == ["XNYS", "MOON", "XNYS"]
    assert states[1].phase == "unknown"
    assert states[1].label == "unknown venue MOON"


def test_calendars_load_once_per_year_and_are_reused(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    clock.session("XNYS", at)
    loads = dict(clock.load_seconds)
    clock.session("XNYS", datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    assert clock.load_seconds == loads  # same year: cached
    assert "XNYS/2026" in loads and loads["XNYS/2026"] > 0


def test_every_venue_in_the_data_file_is_a_real_calendar(clock: MarketClock) -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    for mic, info in venue_table().items():
        assert clock.resolve(mic) == mic
        for alias in info.aliases:
            assert resolve_venue(alias) == mic
        assert clock.session(mic, at).phase != "unknown"


def test_a_bad_venue_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "venues.yaml"
    bad.write_text(
        "XNYS:\n  windows:\n    - {phase: closing_auction, anchor: close, start: 5, end: 0}\n"
    )
    with pytest.raises(DataFileError, match=r"venues.yaml:3: XNYS.windows.0: .*end must be after"):
        venue_table(bad)
