"""Venue names and auction windows, from the editable `venues.yaml` beside this module.

Kept apart from `sessions.py` so resolving "NYSE" → "XNYS" (the catalog does it for every service)
never imports exchange-calendars and pandas, which take about a second to import.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from bot.yamldoc import load_model

VENUES_FILE = Path(__file__).with_name("venues.yaml")

WindowPhase = Literal["pre_open", "opening_auction", "closing_auction"]


class Window(BaseModel):
    """One call/auction window: [anchor + start, anchor + end) minutes, anchor = open or close."""

    model_config = ConfigDict(extra="forbid")

    phase: WindowPhase
    anchor: Literal["open", "close"]
    start: int = Field(ge=-24 * 60, le=24 * 60)
    end: int = Field(ge=-24 * 60, le=24 * 60)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def bounds(self, open_: datetime, close: datetime) -> tuple[datetime, datetime]:
        """The window's absolute [start, end) for one session."""
        base = open_ if self.anchor == "open" else close
        return base + timedelta(minutes=self.start), base + timedelta(minutes=self.end)


class VenueInfo(BaseModel):
    """What venues.yaml says about one MIC."""

    model_config = ConfigDict(extra="forbid")

    aliases: list[str] = Field(default_factory=list)
    source: str = ""
    windows: list[Window] = Field(default_factory=list)


class VenueTable(RootModel[dict[str, VenueInfo]]):
    """The whole file: MIC → info."""


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").split()).casefold()


@cache
def venue_table(path: Path = VENUES_FILE) -> dict[str, VenueInfo]:
    """The parsed venues.yaml (cached: it is read-only data shipped with the bot)."""
    return {mic.upper(): info for mic, info in load_model(VenueTable, path).root.items()}


# Aliases exchange-calendars itself ships, copied so resolving needs no pandas import.
_LIBRARY_ALIASES = {
    "NYSE": "XNYS",
    "NASDAQ": "XNYS",
    "LSE": "XLON",
    "CME": "CMES",
    "CBOT": "CMES",
    "ICE": "IEPA",
    "SIX": "XSWX",
    "JPX": "XTKS",
    "ASX": "XASX",
    "HKEX": "XHKG",
    "TSX": "XTSE",
    "FWB": "XFRA",
}


def resolve_venue(name: str, path: Path = VENUES_FILE) -> str:
    """The MIC for a venue name people write ("NYSE", "xetra", "Euronext Paris"); a name that is
    no known alias comes back upper-cased, to be checked against the calendars later."""
    key = _norm(name)
    for mic, info in venue_table(path).items():
        if key == _norm(mic) or any(key == _norm(alias) for alias in info.aliases):
            return mic
    for alias, mic in _LIBRARY_ALIASES.items():
        if key == _norm(alias):
            return mic
    return name.strip().upper()


def windows_for(mic: str, path: Path = VENUES_FILE) -> list[Window]:
    """The auction windows recorded for `mic`; none for a venue the file does not list."""
    info = venue_table(path).get(mic)
    return list(info.windows) if info else []
