"""What the firm's own data says about an alert: owner, impact, market sessions, freezes.

The same fault means different things at 09:20 New York time and on a Sunday, during a quarter-end
freeze or not. This module turns the service catalog (`catalog.yaml`), the trading calendars
(`bot/market/`) and the freeze calendar into an `Enrichment`: trusted fact lines shown in every
reply and given to the wizard, guidance it must follow, the severity to act on, and the group to
mention. Everything here is computed from operator-owned files and the clock, never from alert
text, which is why it may go to the model as trusted facts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from bot.catalog import ServiceCatalog
from bot.context.enrichment import Enrichment
from bot.context.store import ContextStore
from bot.freeze import FreezeStore, freeze_guidance
from bot.market.assess import assess
from bot.market.sessions import MarketClock, SessionState
from bot.models import Alert

log = structlog.get_logger(__name__)

FreezeLines = Callable[[Alert, datetime], Awaitable[tuple[list[str], list[str]]]]
"""(alert, now) → (fact lines, guidance lines) about change freezes."""


async def no_freezes(alert: Alert, now: datetime) -> tuple[list[str], list[str]]:
    return [], []


def freeze_lines(
    freezes: FreezeStore, catalog: ServiceCatalog, deploys: ContextStore
) -> FreezeLines:
    """Freezes in force for the alert's service (or its venues): a fact line each, and the
    guidance (prefer rollback and mitigation, never deploy, flag deploys made in the freeze)."""

    async def lines(alert: Alert, now: datetime) -> tuple[list[str], list[str]]:
        entry = catalog.get(alert.service)
        service = entry.name if entry else alert.service
        venues = catalog.venues_at_risk(entry.name) if entry else []
        windows = await freezes.active(now, service, venues)
        if not windows:
            return [], []
        recent = await deploys.deploys_for(service) if service else []
        facts = [f"❄️ change freeze: {w.describe()}" for w in windows]
        return facts, freeze_guidance(windows, recent)

    return lines


class TradingContext:
    """The enricher the incident flow calls for every summary and analysis."""

    def __init__(
        self,
        catalog: ServiceCatalog,
        clock: MarketClock,
        *,
        freezes: FreezeLines = no_freezes,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.freezes = freezes
        self.now = now

    def sessions_for(self, service: str | None, at: datetime) -> list[SessionState]:
        """The sessions of every venue the service (or what depends on it) trades on."""
        if not service:
            return []
        venues = self.catalog.venues_at_risk(service)
        try:
            return self.clock.sessions(venues, at)
        except Exception:  # a calendar problem must not cost the alert its answer
            log.exception("market_sessions_failed", venues=venues)
            return []

    async def __call__(self, alert: Alert) -> Enrichment:
        at = self.now()
        entry = self.catalog.get(alert.service)
        sessions = self.sessions_for(entry.name if entry else None, at)
        assessment = assess(alert.severity, entry.tier if entry else None, sessions, at)
        facts: list[str] = []
        if entry is not None:
            impact = self.catalog.impact_line(entry.name)
            if impact:
                facts.append(f"serves: {impact}")
        else:
            # Not naming it: the service label is alert text, and these lines are trusted facts.
            facts.append("the alert's service is not in the service catalog")
        facts += [f"market: {s.label}" for s in sessions]
        freeze_facts, freeze_guidance = await self.freezes(alert, at)
        facts += freeze_facts
        return Enrichment(
            facts=facts,
            guidance=[*assessment.advice, *freeze_guidance],
            severity=assessment.severity,
            severity_reason="; ".join(assessment.reasons[:2]) or None,
            owner_mention=entry.mention if entry else None,
        )
