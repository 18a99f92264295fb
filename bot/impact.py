"""One call that answers "how much does this alert matter right now, and what must we not do?".

It joins the three pieces a trading-floor SRE weighs before touching anything: the service's
catalog entry (tier, owner, who depends on it), the state of every venue it or its dependents
trade on (`bot.market`), and any change freeze in force (`bot.freeze`). The pipeline calls
`market_impact` once per alert and hands the result to the prompt (`prompt_text`) and the
renderer (`impact_line`, `assessment`, `advice`); each part stays usable on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from bot.catalog import ServiceCatalog
from bot.freeze import FreezeStore, FreezeWindow, freeze_guidance
from bot.freeze.guidance import DeployLike
from bot.market.assess import Assessment, assess
from bot.market.sessions import MarketClock, SessionState
from bot.models import Severity


class MarketImpact(BaseModel):
    """Catalog facts, venue states, the market-adjusted severity, and freezes for one alert."""

    service: str | None
    in_catalog: bool
    tier: int | None = None
    owner: str | None = None
    slack_group: str | None = None
    impact_line: str | None = None
    venues: list[str] = Field(default_factory=list)
    sessions: list[SessionState] = Field(default_factory=list)
    assessment: Assessment
    freezes: list[FreezeWindow] = Field(default_factory=list)
    freeze_advice: list[str] = Field(default_factory=list)

    @property
    def advice(self) -> list[str]:
        """Market-timing advice, then freeze advice, without repeats."""
        return list(dict.fromkeys([*self.assessment.advice, *self.freeze_advice]))

    def prompt_text(self) -> str:
        """The facts block for the model: plain lines, nothing it has to infer."""
        lines = [
            f"Service: {self.impact_line or (self.service or 'unknown') + ' (not in catalog)'}"
        ]
        if self.sessions:
            lines.append("Venues now:")
            lines += [f"- {s.label}" for s in self.sessions]
        a = self.assessment
        if a.raised_from:
            lines.append(f"Severity raised from {a.raised_from} to {a.severity} because:")
        else:
            lines.append(f"Severity: {a.severity}.")
        lines += [f"- {r}" for r in a.reasons]
        if self.advice:
            lines.append("Timing and change constraints (follow them):")
            lines += [f"- {line}" for line in self.advice]
        return "\n".join(lines)


async def market_impact(
    service: str | None,
    severity: Severity,
    at: datetime,
    *,
    catalog: ServiceCatalog,
    clock: MarketClock,
    freezes: FreezeStore | None = None,
    deploys: Sequence[DeployLike] = (),
) -> MarketImpact:
    """Everything market-related about an alert on `service` at `at` (aware). Venues are the
    service's own plus its dependents' (a Kafka fault matters while any consumer's venue trades).
    Calendar work runs in a thread: a cold calendar load takes up to a second."""
    entry = catalog.get(service)
    name = entry.name if entry else service
    venues = catalog.venues_at_risk(entry.name) if entry else []
    sessions = await asyncio.to_thread(clock.sessions, venues, at) if venues else []
    assessment = assess(severity, entry.tier if entry else None, sessions, at)
    windows = await freezes.active(at, name, venues) if freezes is not None else []
    return MarketImpact(
        service=name,
        in_catalog=entry is not None,
        tier=entry.tier if entry else None,
        owner=entry.owner if entry else None,
        slack_group=entry.slack_group if entry else None,
        impact_line=catalog.impact_line(entry.name) if entry else None,
        venues=venues,
        sessions=sessions,
        assessment=assessment,
        freezes=windows,
        freeze_advice=freeze_guidance(windows, deploys),
    )
