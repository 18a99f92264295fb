"""The shape of what the firm's own data adds to an alert (see `bot/context/trading.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.models import Alert, Severity


@dataclass
class Enrichment:
    """What the firm's own data says about an alert: trusted fact lines (market session, freeze,
    owner, impact), guidance for the wizard, an assessed severity and whom to mention."""

    facts: list[str] = field(default_factory=list)
    guidance: list[str] = field(default_factory=list)
    severity: Severity | None = None
    severity_reason: str | None = None
    owner_mention: str | None = None
    headline: str | None = None
    """The impact/session line of an answer's first screen: tier, what the service does, who
    owns it and the most pressing venue ("XLON opens in 1 h 17 min"); short, plain text."""
    source_severity: Severity | None = None
    """The alert's own severity, when `severity` was raised from it (the reason says why)."""


Enricher = Callable[[Alert], Awaitable[Enrichment]]
