"""Market-aware severity: what an SRE at a trading firm does with an alert, given the clock.

A tier-1 order-path alert five minutes before the open is a page, not a ticket; a restart during a
closing auction can leave the firm unhedged into the close; the same fault on a Saturday is the
moment to fix it properly. These rules live in one table (`RULES`) so they can be read, argued
about and changed in one place. `assess` is pure: states in, assessment out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

from bot.market.sessions import AUCTIONS, IN_SESSION, OFF_DAYS, SessionState
from bot.models import Severity

SEVERITY_RANK: dict[Severity, int] = {
    "unknown": 0,
    "info": 1,
    "warning": 2,
    "high": 3,
    "critical": 4,
}

OPEN_SOON_MIN = 15
"""A venue opening within this many minutes is treated as open."""
CLOSE_SOON_MIN = 30
"""Within this many minutes of the close, prefer mitigation over risky fixes."""

MARKETS_CLOSED_ADVICE = "markets closed: time to fix properly, still record the change"


class Assessment(BaseModel):
    """The severity to act on (never lower than reported), why, and market-timing advice."""

    severity: Severity
    raised_from: Severity | None = None
    reasons: list[str] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class _View:
    """One session as seen at `at`: minutes recomputed from `at`, so a cached state stays exact."""

    state: SessionState
    to_open: int | None
    to_close: int | None


@dataclass(frozen=True)
class Rule:
    """When `applies`, the service's severity is raised to at least `floor[tier]` (tiers absent
    from `floor` are not raised), and `reason`/`advice` (format fields: venue, label, open_in,
    close_in, auction) are added."""

    name: str
    applies: Callable[[_View], bool]
    reason: str
    advice: str = ""
    floor: Mapping[int, Severity] = field(default_factory=dict)


RULES: tuple[Rule, ...] = (
    Rule(
        "auction",
        lambda v: v.state.phase in AUCTIONS,
        reason="{label}",
        advice="do not restart during the {auction}; fail over instead",
        floor={1: "critical", 2: "critical"},
    ),
    Rule(
        "open",
        lambda v: v.state.phase == "open",
        reason="{venue} is trading: {label}",
        floor={1: "critical", 2: "high"},
    ),
    Rule(
        "break",
        lambda v: v.state.phase == "break",
        reason="{label}",
        floor={1: "high"},
    ),
    Rule(
        "opens_soon",
        lambda v: v.state.phase not in IN_SESSION
        and v.to_open is not None
        and v.to_open <= OPEN_SOON_MIN,
        reason="{venue} opens in {open_in} min",
        advice="stabilise before the open: fail over or roll back now, no experiments",
        floor={1: "critical", 2: "high"},
    ),
    Rule(
        "closes_soon",
        lambda v: v.to_close is not None and v.to_close <= CLOSE_SOON_MIN,
        reason="{venue} closes in {close_in} min",
        advice="prefer mitigation (fail over, throttle, roll back) over risky fixes until after "
        "the close",
    ),
    Rule(
        "half_day",
        lambda v: v.state.is_half_day and v.state.phase in IN_SESSION,
        reason="{venue} half day: the close comes early",
    ),
    Rule(
        "unknown_venue",
        lambda v: v.state.phase == "unknown",
        reason="{label}: market hours not checked",
    ),
)


def _minutes(later: datetime | None, at: datetime) -> int | None:
    if later is None:
        return None
    return max(0, math.ceil((later - at).total_seconds() / 60))


def _view(state: SessionState, at: datetime) -> _View:
    in_session = state.phase in IN_SESSION
    to_open = _minutes(state.next_open, at) if state.phase not in IN_SESSION - {"break"} else None
    return _View(state, to_open, _minutes(state.next_close, at) if in_session else None)


def _max(a: Severity, b: Severity) -> Severity:
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


def assess(
    severity: Severity, tier: int | None, sessions: Sequence[SessionState], at: datetime
) -> Assessment:
    """Apply `RULES` to every venue the service serves. `tier` None (service not in the catalog)
    raises nothing but still gives reasons and advice. Severity is never lowered."""
    result: Severity = severity
    reasons: list[str] = []
    advice: list[str] = []
    views = [_view(s, at) for s in sessions]
    for view in views:
        fields = {
            "venue": view.state.venue,
            "label": view.state.label,
            "open_in": view.to_open,
            "close_in": view.to_close,
            "auction": view.state.phase.replace("_", " "),
        }
        for rule in RULES:
            if not rule.applies(view):
                continue
            reasons.append(rule.reason.format(**fields))
            if rule.advice:
                advice.append(rule.advice.format(**fields))
            if tier is not None and tier in rule.floor:
                result = _max(result, rule.floor[tier])
    known = [v for v in views if v.state.phase != "unknown"]
    quiet = all(
        v.state.phase in OFF_DAYS and (v.to_open is None or v.to_open > OPEN_SOON_MIN)
        for v in known
    )
    if known and quiet:
        reasons.append("all venues closed: " + "; ".join(v.state.label for v in known))
        advice.append(MARKETS_CLOSED_ADVICE)
    if tier is None and SEVERITY_RANK[result] == SEVERITY_RANK[severity] and not quiet and known:
        reasons.append("service tier unknown (not in the catalog): severity left as reported")
    return Assessment(
        severity=result,
        raised_from=severity if result != severity else None,
        reasons=list(dict.fromkeys(reasons)),
        advice=list(dict.fromkeys(advice)),
    )
