"""The summary flusher: applies coalesced incident-summary updates at a rate Slack accepts.

In a storm every alert changes its incident's counts. Updating the summary on each would mean a
thousand `chat.update` calls (Slack allows roughly 50 a minute per method before answering 429),
so jobs only mark the incident dirty; this loop updates each dirty summary at most once per
`summary_interval_s`, and all of them together at most `per_minute` times a minute. Claims are
atomic in Redis, so several replicas never update the same summary for the same change twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from bot.incidents.store import IncidentStore

log = structlog.get_logger(__name__)


class SummaryFlusher:
    """A background task: claim due summaries, refresh them, spend a token per update."""

    def __init__(
        self,
        incidents: IncidentStore,
        refresh: Callable[[str], Awaitable[bool]],
        *,
        per_minute: int = 40,
        tick_s: float = 0.25,
    ) -> None:
        self.incidents = incidents
        self.refresh = refresh
        self.per_minute = per_minute
        self.tick_s = tick_s
        self._tokens = float(min(per_minute, 10))
        self._last = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self.updates = 0
        self.in_flight = 0
        """Summaries claimed but not yet updated (so "nothing pending" really means done)."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="summary-flusher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.flush_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarting, Slack down: log, keep going
                log.exception("summary_flush_failed")
                await asyncio.sleep(1.0)
            await asyncio.sleep(self.tick_s)

    async def flush_once(self) -> int:
        """Refresh what is due and affordable now; returns how many summaries were updated."""
        now = time.monotonic()
        self._tokens = min(
            float(max(self.per_minute // 4, 1)),
            self._tokens + (now - self._last) * self.per_minute / 60.0,
        )
        self._last = now
        budget = int(self._tokens)
        if budget < 1:
            return 0
        done = 0
        self.in_flight += 1  # claiming: what leaves the dirty set is not done yet
        try:
            claimed = await self.incidents.claim_due(budget)
        finally:
            self.in_flight -= 1
        self.in_flight += len(claimed)
        for incident_id in claimed:
            try:
                if await self.refresh(incident_id):
                    done += 1
                    self._tokens -= 1
            except Exception as exc:
                log.warning(
                    "summary_refresh_failed", incident_id=incident_id, error=repr(exc)[:300]
                )
                await self.incidents.mark_dirty(incident_id)  # try again later
            finally:
                self.in_flight -= 1
        self.updates += done
        return done
