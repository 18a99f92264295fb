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

from bot.catalog import ServiceCatalog, group_mention
from bot.context.enrichment import Enrichment
from bot.freeze import FreezeStore, freeze_guidance
from bot.impact import MarketImpact, market_impact
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
            owner_mention=group_mention(impact.slack_group, impact.owner),
            headline=headline(impact),
            source_severity=alert.severity if assessment.severity != alert.severity else None,
        )


def _minutes(value: int) -> str:
    hours, minutes = divmod(value, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def session_line(impact: MarketImpact) -> str | None:
    """The most pressing venue fact: trading venues first, else the next open."""
    trading = [s for s in impact.sessions if s.minutes_to_close is not None]
    if trading:
        soonest = min(trading, key=lambda s: s.minutes_to_close or 0)
        others = f" (+{len(trading) - 1} trading)" if len(trading) > 1 else ""
        closes = _minutes(soonest.minutes_to_close or 0)
        return f"{soonest.venue} {soonest.phase}, closes in {closes}{others}"
    opening = [s for s in impact.sessions if s.minutes_to_open is not None]
    if opening:
        soonest = min(opening, key=lambda s: s.minutes_to_open or 0)
        return f"{soonest.venue} opens in {_minutes(soonest.minutes_to_open or 0)}"
    return None


def headline(impact: MarketImpact) -> str | None:
    """`tier 1 · EU equities order entry · owner EU Order Entry · XLON opens in 1 h 17 min`."""
    parts: list[str] = []
    if impact.tier is not None:
        parts.append(f"tier {impact.tier}")
    if impact.impact_line:
        what = impact.impact_line.split(" — ")
        if len(what) > 1 and not what[1].startswith(("venues ", "owner ")):
            parts.append(what[1].split(" (")[0][:80])
    if impact.owner:
        parts.append(f"owner {impact.owner}")
    if impact.freezes:
        parts.append("❄️ change freeze")
    session = session_line(impact)
    if session:
        parts.append(session)
    return " · ".join(parts) or None
