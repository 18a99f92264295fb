"""Is the venue open right now? Market-session awareness for triage.

The same alert means different things at 09:25 New York and at 03:00 on a Sunday: an order-gateway
restart is routine on a weekend and a disaster in the closing auction. Hours, holidays, half days
and lunch breaks come from `exchange-calendars` (a maintained library, so a new holiday is a
dependency bump, not a code change); auction windows, which it does not model, come from the
editable `venues.yaml` (see `bot.market.venues`).

Loading a calendar costs a few hundred milliseconds (holiday rules are computed with pandas), so
`MarketClock` loads each venue lazily, once per calendar year (so the reload falls on 1 January,
when every venue is shut), caches a plain-Python schedule and answers later questions with a
bisect (tens of microseconds). Call `warm()` at start-up, in a thread, to keep that cost off the
first alert.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel

from bot.market.venues import VENUES_FILE, Window, resolve_venue, windows_for

log = structlog.get_logger(__name__)

Phase = Literal[
    "open",
    "pre_open",
    "opening_auction",
    "closing_auction",
    "closed",
    "break",
    "holiday",
    "weekend",
    "unknown",
]
IN_SESSION: frozenset[str] = frozenset({"open", "break", "closing_auction"})
AUCTIONS: frozenset[str] = frozenset({"opening_auction", "closing_auction"})
OFF_DAYS: frozenset[str] = frozenset({"closed", "holiday", "weekend"})


class UnknownVenueError(ValueError):
    """The venue is neither a calendar name nor an alias exchange-calendars or venues.yaml knows."""


class SessionState(BaseModel):
    """Where one venue stands at one instant.

    `next_open` is the next moment continuous trading (re)starts (the end of a lunch break counts);
    `next_close` is the close of the current session, or of the next one when closed.
    `minutes_to_close` is set only while in session (open, break, closing auction before the
    close); `minutes_to_open` only while not trading continuously. Both round up.
    `phase_end` is when the current phase ends (auction end, break end, open, close).
    """

    venue: str
    phase: Phase
    is_half_day: bool = False
    next_open: datetime | None = None
    next_close: datetime | None = None
    minutes_to_open: int | None = None
    minutes_to_close: int | None = None
    phase_end: datetime | None = None
    timezone: str | None = None
    label: str


@dataclass(frozen=True)
class _Schedule:
    """One venue's sessions over a range of dates, as plain datetimes (UTC)."""

    mic: str
    tz: ZoneInfo
    weekmask: str
    sessions: list[date]
    opens: list[datetime]
    closes: list[datetime]
    break_starts: list[datetime | None]
    break_ends: list[datetime | None]
    early: frozenset[date]
    windows: list[Window]
    session_set: frozenset[date]

    @property
    def after_close(self) -> timedelta:
        """How long after the close a close-anchored window can still run (LSE: 5 min)."""
        ends = [w.end for w in self.windows if w.anchor == "close"]
        return timedelta(minutes=max([0, *ends]))


def _minutes(delta: timedelta) -> int:
    return max(0, math.ceil(delta.total_seconds() / 60))


def _duration(delta: timedelta) -> str:
    minutes = _minutes(delta)
    if minutes < 60:
        return f"{minutes} min"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {mins:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


class MarketClock:
    """Answers "where is venue X at time T" from cached exchange calendars (thread-safe)."""

    def __init__(self, venues_file: Path = VENUES_FILE) -> None:
        self._venues_file = venues_file
        self._cache: dict[tuple[str, int], _Schedule] = {}
        self._lock = threading.Lock()
        self._names: frozenset[str] | None = None
        self.load_seconds: dict[str, float] = {}
        """Measured wall time of each calendar load, keyed `MIC/year` (for logs and benches)."""

    def resolve(self, venue: str) -> str:
        """The calendar name for `venue`, or UnknownVenueError naming what exists."""
        import exchange_calendars as xcals

        mic = resolve_venue(venue, self._venues_file)
        if self._names is None:
            self._names = frozenset(xcals.get_calendar_names(include_aliases=True))
        if mic in self._names:
            return str(xcals.resolve_alias(mic))
        raise UnknownVenueError(
            f"unknown venue {venue!r}: use an ISO MIC such as XNYS, XLON, XETR or a name in "
            "bot/market/venues.yaml"
        )

    def _schedule(self, mic: str, year: int) -> _Schedule:
        key = (mic, year)
        cached = self._cache.get(key)  # fast path: no lock once loaded
        if cached is not None:
            return cached
        with self._lock:  # one load at a time: two threads must not both pay for the same venue
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            started = time.perf_counter()
            schedule = self._load(mic, year)
            elapsed = time.perf_counter() - started
            self.load_seconds[f"{mic}/{year}"] = elapsed
            self._cache[key] = schedule
        log.info("market_calendar_loaded", venue=mic, year=year, seconds=round(elapsed, 3))
        return schedule

    def _load(self, mic: str, year: int) -> _Schedule:
        import exchange_calendars as xcals

        start, end = date(year - 1, 12, 1), date(year + 1, 2, 28)
        with warnings.catch_warnings():
            # exchange-calendars 4.x on pandas 3 emits deprecation warnings on every load: noise
            # in the bot's logs that says nothing about our code
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            try:
                cal = xcals.get_calendar(mic, start=start, end=end)
            except ValueError:
                # some venues record holidays only to a fixed year (XSES): take the library default
                cal = xcals.get_calendar(mic)
            sched = cal.schedule
            early = frozenset(ts.date() for ts in cal.early_closes)

        def col(name: str) -> list[datetime | None]:
            if name not in sched:
                return [None] * len(sched)
            return [
                None if ts is None or ts != ts else ts.to_pydatetime().astimezone(UTC)
                for ts in sched[name]
            ]

        opens = [d for d in col("open") if d is not None]
        closes = [d for d in col("close") if d is not None]
        return _Schedule(
            mic=mic,
            tz=ZoneInfo(str(cal.tz)),
            weekmask=cal.weekmask,
            sessions=[ts.date() for ts in sched.index],
            opens=opens,
            closes=closes,
            break_starts=col("break_start"),
            break_ends=col("break_end"),
            early=early,
            windows=windows_for(mic, self._venues_file),
            session_set=frozenset(ts.date() for ts in sched.index),
        )

    def warm(self, venues: Iterable[str], at: datetime) -> float:
        """Load every known venue's calendar for `at`'s year; returns seconds spent. Unknown
        venues are skipped (they are reported by `sessions`)."""
        started = time.perf_counter()
        for venue in venues:
            try:
                self._schedule(self.resolve(venue), _utc(at).year)
            except UnknownVenueError:
                continue
        return time.perf_counter() - started

    def session(self, venue: str, at: datetime) -> SessionState:
        """The state of one venue at `at` (aware). Raises UnknownVenueError for an unknown name."""
        at = _utc(at)
        mic = self.resolve(venue)
        return _state(self._schedule(mic, at.year), at)

    def sessions(self, venues: Iterable[str], at: datetime) -> list[SessionState]:
        """States for several venues; an unknown one yields phase "unknown" instead of failing
        the whole answer over one bad catalog entry."""
        states: list[SessionState] = []
        for venue in dict.fromkeys(venues):
            try:
                states.append(self.session(venue, at))
            except UnknownVenueError:
                states.append(
                    SessionState(venue=venue, phase="unknown", label=f"unknown venue {venue}")
                )
        return states


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("market session times must be timezone-aware")
    return at.astimezone(UTC)


def _in_window(s: _Schedule, i: int, at: datetime) -> tuple[Window, datetime, datetime] | None:
    for window in s.windows:
        start, end = window.bounds(s.opens[i], s.closes[i])
        if start <= at < end:
            return window, start, end
    return None


def _state(s: _Schedule, at: datetime) -> SessionState:
    """Pure: the phase of schedule `s` at `at` (UTC)."""
    i = bisect_right(s.closes, at - s.after_close)
    if i >= len(s.closes):
        return SessionState(
            venue=s.mic, phase="unknown", label=f"{s.mic} calendar has no data for {at:%Y-%m-%d}"
        )
    open_, close = s.opens[i], s.closes[i]
    tzname = s.tz.key
    window = _in_window(s, i, at)
    in_session = open_ <= at < close
    after_close = at >= close
    nxt = i + 1 if after_close else i
    has_next = nxt < len(s.opens)
    next_open = s.opens[nxt] if has_next else None
    next_close = s.closes[nxt] if has_next else None
    if in_session:
        next_open, next_close = (s.opens[i + 1] if i + 1 < len(s.opens) else None), close
    focus = i if (in_session or window) else nxt
    half = focus < len(s.sessions) and s.sessions[focus] in s.early

    def local(ts: datetime, with_day: bool = False) -> str:
        fmt = "%a %d %b %H:%M" if with_day else "%H:%M"
        return ts.astimezone(s.tz).strftime(fmt)

    half_note = ""
    if half and next_close is not None:
        half_note = f" (half day: closes {local(s.closes[focus])})"
    base: dict[str, Any] = dict(
        venue=s.mic, is_half_day=half, next_close=next_close, timezone=tzname
    )

    bstart, bend = s.break_starts[i], s.break_ends[i]
    if window is not None and (window[0].phase == "closing_auction" or not in_session):
        win, wstart, wend = window
        name = {"pre_open": "pre-open", "opening_auction": "opening auction"}.get(win.phase, "")
        if win.phase == "closing_auction":
            label = (
                f"{s.mic} closing auction — {local(wstart)}–{local(wend)} {tzname}, "
                f"ends in {_duration(wend - at)}{half_note}"
            )
            return SessionState(
                **base,
                phase="closing_auction",
                next_open=next_open,
                minutes_to_close=_minutes(close - at) if in_session else None,
                minutes_to_open=(
                    None if in_session else _minutes(next_open - at) if next_open else None
                ),
                phase_end=wend,
                label=label,
            )
        label = (
            f"{s.mic} {name} — opens {local(open_)} {tzname} in {_duration(open_ - at)}{half_note}"
        )
        return SessionState(
            **base,
            phase=win.phase,
            next_open=open_,
            minutes_to_open=_minutes(open_ - at),
            phase_end=wend,
            label=label,
        )
    if in_session and bstart is not None and bend is not None and bstart <= at < bend:
        label = f"{s.mic} midday break — reopens {local(bend)} {tzname} in {_duration(bend - at)}"
        return SessionState(
            **base,
            phase="break",
            next_open=bend,
            minutes_to_open=_minutes(bend - at),
            minutes_to_close=_minutes(close - at),
            phase_end=bend,
            label=label + half_note,
        )
    if in_session:
        label = f"{s.mic} open — closes {local(close)} {tzname} in {_duration(close - at)}"
        return SessionState(
            **base,
            phase="open",
            next_open=next_open,
            minutes_to_close=_minutes(close - at),
            phase_end=close,
            label=label + (" (half day)" if half else ""),
        )
    phase = _off_phase(s, at)
    opens_text = ""
    if next_open is not None:
        opens_text = f" — opens {local(next_open, True)} {tzname} in {_duration(next_open - at)}"
    return SessionState(
        **base,
        phase=phase,
        next_open=next_open,
        minutes_to_open=_minutes(next_open - at) if next_open else None,
        phase_end=next_open,
        label=f"{s.mic} {phase}{opens_text}{half_note}",
    )


def _off_phase(s: _Schedule, at: datetime) -> Phase:
    """closed (a trading day, outside hours), weekend (off by the weekmask) or holiday."""
    day = at.astimezone(s.tz).date()
    if day in s.session_set:
        return "closed"
    if s.weekmask[day.weekday()] == "0":
        return "weekend"
    return "holiday"
