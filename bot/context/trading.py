"""What the firm's own data says about an alert: owner, impact, market sessions, freezes.

The same fault means different things at 09:20 New York time and on a Sunday, during a quarter-end
freeze or not. This module turns the service catalog (`catalog.yaml`), the trading calendars
(`bot/market/`) and the freeze calendar into an `Enrichment`: trusted fact lines shown in every
reply and given to the wizard, guidance it must follow, the severity to act on, and the group to
mention. Everything here is computed from operator-owned files and the clock, never from alert
text, which is why it may go to the model as trusted facts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import structlog

from bot.catalog import ServiceCatalog
from bot.context.enrichment import Enrichment
from bot.freeze import FreezeStore, freeze_guidance
from bot.impact import market_impact
from bot.market.sessions import MarketClock
from bot.models import Alert, Deploy

log = structlog.get_logger(__name__)

Deploys = Callable[[str], Awaitable[Sequence[Deploy]]]
"""service → its recent deploys (newest first), to flag deploys made during a freeze."""


class TradingContext:
    """The enricher the incident flow calls for every summary and analysis: `market_impact`
    (catalog entry, venue sessions, assessed severity, freezes) turned into an `Enrichment`."""

    def __init__(
        self,
        catalog: ServiceCatalog,
        clock: MarketClock,
        *,
        freezes: FreezeStore | None = None,
        deploys: Deploys | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.freezes = freezes
        self.deploys = deploys
        self.now = now

    async def __call__(self, alert: Alert) -> Enrichment:
        try:
            impact = await market_impact(
                alert.service,
                alert.severity,
                self.now(),
                catalog=self.catalog,
                clock=self.clock,
                freezes=self.freezes,
            )
        except Exception:  # a calendar or freeze problem must not cost the alert its answer
            log.exception("market_impact_failed")
            return Enrichment()
        facts: list[str] = []
        if impact.impact_line:
            facts.append(f"serves: {impact.impact_line}")
        if not impact.in_catalog:
            # Not naming it: the service label is alert text, and these lines are trusted facts.
            facts.append("the alert's service is not in the service catalog")
        facts += [f"market: {s.label}" for s in impact.sessions]
        facts += [f"❄️ change freeze: {w.describe()}" for w in impact.freezes]
        freeze_advice = impact.freeze_advice
        if impact.freezes and impact.service and self.deploys is not None:
            # Only under a freeze are the service's deploys read: those made inside it are
            # flagged as the prime suspect.
            recent = await self.deploys(impact.service)
            freeze_advice = freeze_guidance(impact.freezes, recent)
        assessment = impact.assessment
        return Enrichment(
            facts=facts,
            guidance=[*assessment.advice, *freeze_advice],
            severity=assessment.severity,
            severity_reason="; ".join(assessment.reasons[:2]) or None,
            owner_mention=f"<!subteam^{impact.slack_group}>" if impact.slack_group else None,
        )
