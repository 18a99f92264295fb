"""Manual change freezes (`/wizard freeze on|off|status`), kept in Redis.

Incidents start freezes nobody scheduled ("freeze EU equities until the vendor confirms"). The
freeze lives in Redis so every worker and replica sees it at once, expires by itself at its end
(Redis EXAT, no sweeper), and every on/off is kept in a short history: who, when, why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import redis.asyncio as redis
import structlog
from pydantic import BaseModel, ValidationError
from redis.exceptions import WatchError

from bot.freeze.windows import FreezeCalendar, FreezeScope, FreezeWindow
from bot.store import keys

log = structlog.get_logger(__name__)

HISTORY_LIMIT = 100


REQUEST_ONCE_TTL_S = 600
"""Longer than Slack's 5-minute signature window: a replay after it fails the signature check."""


class FreezeReplayed(Exception):
    """This very signed request was applied already (a replay or a retry): nothing changes."""


class FreezeStale(Exception):
    """The request was signed before the manual change now in force: applying it would undo a
    newer decision (a late or replayed `off` lifting a newer `on`)."""


class FreezeChange(BaseModel):
    """One manual on/off, for `/wizard freeze status` and the record."""

    action: Literal["on", "off"]
    by: str
    at: datetime
    reason: str = ""
    until: datetime | None = None
    scope: FreezeScope = FreezeScope()
    version: int | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class FreezeStore:
    """The manual freeze in Redis, combined with the scheduled calendar."""

    def __init__(self, client: redis.Redis, calendar: FreezeCalendar | None = None) -> None:
        self.redis = client
        self.calendar = calendar or FreezeCalendar()

    async def set_manual(
        self,
        on: bool,
        by: str,
        reason: str = "",
        until: datetime | None = None,
        scope: FreezeScope | None = None,
        *,
        request_id: str | None = None,
        requested_at: datetime | None = None,
    ) -> FreezeWindow | None:
        """Turn the manual freeze on (replacing any earlier one) or off. Returns the freeze now in
        force, None after `off`. `until` must be aware and in the future.

        `request_id` (the signed request's digest) makes the change happen at most once:
        `FreezeReplayed` for a repeat. `requested_at` (the signed timestamp) orders changes:
        `FreezeStale` when a newer change is already in force. Each change gets a version."""
        now = _now()
        if request_id is not None and not await self.redis.set(
            keys.request_once(request_id), "1", nx=True, ex=REQUEST_ONCE_TTL_S
        ):
            raise FreezeReplayed("this request was already applied")
        scope = scope or FreezeScope()
        if until is not None:
            if until.tzinfo is None:
                raise ValueError("until must be timezone-aware")
            until = until.astimezone(UTC)
            if until <= now:
                raise ValueError("until is in the past")
        order = (requested_at or now).timestamp()
        for _ in range(20):
            try:
                return await self._apply(on, by, reason, until, scope, now, order)
            except WatchError:
                continue
        raise RuntimeError("manual freeze kept changing under us")

    async def _apply(
        self,
        on: bool,
        by: str,
        reason: str,
        until: datetime | None,
        scope: FreezeScope,
        now: datetime,
        order: float,
    ) -> FreezeWindow | None:
        window = None
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(keys.freeze_changed_at(), keys.freeze_version())
            last = await pipe.get(keys.freeze_changed_at())
            if last is not None and float(last) > order:
                raise FreezeStale("a newer freeze change is in force")
            version = int(await pipe.get(keys.freeze_version()) or 0) + 1
            change = FreezeChange(
                action="on" if on else "off",
                by=by,
                at=now,
                reason=reason,
                until=until if on else None,
                scope=scope if on else FreezeScope(),
                version=version,
            )
            pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            pipe.set(keys.freeze_version(), version)
            pipe.set(keys.freeze_changed_at(), repr(order))
            if on:
                window = FreezeWindow(
                    id="manual",
                    reason=reason or "manual freeze",
                    start=now,
                    end=until,
                    scope=scope,
                    source="manual",
                    set_by=by,
                    version=version,
                )
                pipe.set(keys.freeze_manual(), window.model_dump_json(), exat=until)
            else:
                pipe.delete(keys.freeze_manual())
            pipe.lpush(keys.freeze_history(), change.model_dump_json())
            pipe.ltrim(keys.freeze_history(), 0, HISTORY_LIMIT - 1)
            await pipe.execute()
        log.info("freeze_manual_set", on=on, by=by, until=until.isoformat() if until else None)
        return window

    async def manual(self) -> FreezeWindow | None:
        """The manual freeze in force, if any (an unreadable value is logged and ignored)."""
        raw = await self.redis.get(keys.freeze_manual())
        if raw is None:
            return None
        try:
            window = FreezeWindow.model_validate_json(raw)
        except ValidationError:
            log.warning("freeze_manual_unreadable")
            return None
        return window if window.end is None or window.end > _now() else None

    async def active(
        self, at: datetime, service: str | None = None, venues: Sequence[str] = ()
    ) -> list[FreezeWindow]:
        """Scheduled and manual freezes covering `at` and `service` (or one of its venues)."""
        windows = self.calendar.active(at, service, venues)
        manual = await self.manual()
        if manual is not None and manual.covers(at) and manual.scope.applies_to(service, venues):
            windows.append(manual)
        return windows

    async def history(self, limit: int = 10) -> list[FreezeChange]:
        """The latest manual changes, newest first."""
        raw = await self.redis.lrange(keys.freeze_history(), 0, max(0, limit - 1))
        return [FreezeChange.model_validate_json(item) for item in raw]
