"""The summary flusher: applies coalesced incident-summary updates at a rate Slack accepts.

In a storm every alert changes its incident's counts. Updating the summary on each would mean a
thousand `chat.update` calls (Slack allows roughly 50 a minute per method before answering 429),
so jobs only mark the incident dirty; this loop takes what is due and affordable from
`SummaryQueue` (bot/incidents/summaries.py: debounce, and one token bucket in Redis shared by
every replica) and refreshes it. A refresh that found nothing to change gives its token back.
"""

from __future__ import annotations

import asyncio
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
        batch: int = 10,
        tick_s: float = 0.25,
    ) -> None:
        self.incidents = incidents
        self.refresh = refresh
        self.batch = batch
        self.tick_s = tick_s
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
        done = 0
        self.in_flight += 1  # claiming: what leaves the dirty set is not done yet
        try:
            claimed = await self.incidents.claim_due(self.batch)
        finally:
            self.in_flight -= 1
        self.in_flight += len(claimed)
        for incident_id in claimed:
            try:
                if await self.refresh(incident_id):
                    done += 1
                else:
                    await self.incidents.summaries.refund()
            except Exception as exc:  # the token stays spent: the call may have reached Slack
                log.warning(
                    "summary_refresh_failed", incident_id=incident_id, error=repr(exc)[:300]
                )
                await self.incidents.mark_dirty(incident_id)  # try again later
            finally:
                self.in_flight -= 1
        self.updates += done
        return done
