"""Change-freeze windows and the scheduled calendar (`freezes.yaml`).

Trading firms freeze change around quarter end, index rebalances, expiries and exchange upgrade
weekends: a forward fix is then a change like any other and needs an exception, so the wizard must
know a freeze is on before it suggests one. The calendar is data the change-management team edits;
each window has an aware start/end (a naive time needs `tz:`), a scope and a reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.catalog import normalise
from bot.market.venues import resolve_venue
from bot.yamldoc import load_model

log = structlog.get_logger(__name__)


class FreezeScope(BaseModel):
    """What a freeze covers: everything when both lists are empty (`scope: all` in YAML)."""

    model_config = ConfigDict(extra="forbid")

    services: list[str] = Field(default_factory=list)
    venues: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _all(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().casefold() == "all"):
            return {}
        return value

    @field_validator("services")
    @classmethod
    def _services(cls, services: list[str]) -> list[str]:
        return list(dict.fromkeys(normalise(s) for s in services if s.strip()))

    @field_validator("venues")
    @classmethod
    def _venues(cls, venues: list[str]) -> list[str]:
        return list(dict.fromkeys(resolve_venue(v) for v in venues if v.strip()))

    @property
    def is_all(self) -> bool:
        return not self.services and not self.venues

    def applies_to(self, service: str | None, venues: Iterable[str] = ()) -> bool:
        """Does the freeze cover this service (or any of the venues it serves)? A question about
        no particular service (`service` None and no venues) is covered by every freeze."""
        if self.is_all or (service is None and not venues):
            return True
        if service is not None:
            key = normalise(service)
            if any(key == s or key.startswith(s + "-") for s in self.services):
                return True
        return any(resolve_venue(v) in self.venues for v in venues)

    def describe(self) -> str:
        if self.is_all:
            return "all services"
        parts = [*self.services, *self.venues]
        return ", ".join(parts)


class FreezeWindow(BaseModel):
    """One freeze, scheduled or manual, in UTC. A manual freeze may have no end (until `off`)."""

    id: str
    reason: str
    start: datetime
    end: datetime | None
    scope: FreezeScope = Field(default_factory=FreezeScope)
    source: Literal["calendar", "manual"] = "calendar"
    set_by: str | None = None
    version: int | None = None
    """Manual freezes: the change counter when it was set (a stale `off` cannot lift it)."""

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)

    def describe(self) -> str:
        """One line: reason, id, scope and end, for guidance and `/wizard freeze status`."""
        until = f"until {self.end:%Y-%m-%d %H:%M} UTC" if self.end else "until lifted"
        who = f", set by {self.set_by}" if self.set_by else ""
        return f"{self.reason} ({self.id}; {self.scope.describe()}; {until}{who})"


class FreezeSpec(BaseModel):
    """A window as written in freezes.yaml."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=300)
    start: datetime
    end: datetime
    tz: str | None = None
    scope: FreezeScope = Field(default_factory=FreezeScope)

    @field_validator("tz")
    @classmethod
    def _tz(cls, tz: str | None) -> str | None:
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {tz!r} (use an IANA name)") from None
        return tz

    @model_validator(mode="after")
    def _aware(self) -> FreezeSpec:
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None:
                if self.tz is None:
                    raise ValueError(f"{name} has no time zone: add tz: (e.g. Europe/London)")
                value = value.replace(tzinfo=ZoneInfo(self.tz))
            setattr(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def window(self) -> FreezeWindow:
        return FreezeWindow(
            id=self.id, reason=self.reason, start=self.start, end=self.end, scope=self.scope
        )


class FreezeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    freezes: list[FreezeSpec] = Field(default_factory=list)


class FreezeCalendar:
    """Scheduled freezes from freezes.yaml."""

    def __init__(self, windows: Iterable[FreezeWindow] = ()) -> None:
        self.windows = sorted(windows, key=lambda w: w.start)

    @classmethod
    def load(cls, path: Path) -> FreezeCalendar:
        """Missing file → no scheduled freezes (warning); invalid → DataFileError with its line."""
        if not path.exists():
            log.warning("freeze_calendar_missing", path=str(path))
            return cls()
        windows = [spec.window() for spec in load_model(FreezeFile, path).freezes]
        log.info("freeze_calendar_loaded", path=str(path), windows=len(windows))
        return cls(windows)

    def active(
        self, at: datetime, service: str | None = None, venues: Iterable[str] = ()
    ) -> list[FreezeWindow]:
        """Windows covering `at` whose scope covers `service` (or one of its `venues`)."""
        venues = list(venues)
        return [w for w in self.windows if w.covers(at) and w.scope.applies_to(service, venues)]

    def upcoming(
        self, at: datetime, within_h: float = 24.0, service: str | None = None
    ) -> list[FreezeWindow]:
        """Windows starting within the next `within_h` hours (so a fix can land before them)."""
        horizon = at.timestamp() + within_h * 3600
        return [
            w
            for w in self.windows
            if at < w.start and w.start.timestamp() <= horizon and w.scope.applies_to(service)
        ]
