"""Small formatting rules shared by every renderer: money, durations, ages, thread links, the
severity icon. One definition each, so the card, the analysis and `/wizard status` agree."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import urlencode

SEVERITY_ICON = {
    "critical": "🔴",
    "high": "🟠",
    "warning": "🟡",
    "info": "🔵",
    "unknown": "⚪",
}


def severity_label(severity: str, raised_from: str | None = None, reason: str | None = None) -> str:
    """`🔴 critical (raised from high: XLON opens in 12 min)`: one spelling everywhere."""
    text = f"{SEVERITY_ICON.get(severity, '⚪')} {severity}"
    if raised_from and raised_from != severity:
        text += f" (raised from {raised_from}" + (f": {reason}" if reason else "") + ")"
    return text


def money(value: Decimal | None) -> str:
    """Dollars to four places (`$0.0123`); `<$0.0001` for a real but tiny cost; `unknown` for a
    model without a published price (bot/triage/prices.yaml)."""
    if value is None:
        return "unknown"
    try:
        if not value.is_finite():
            return "$?"
        if Decimal(0) < value < Decimal("0.0001"):
            return "<$0.0001"
        return f"${value.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}"
    except (InvalidOperation, AttributeError):
        return "$?"


def duration_ms(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def since(when: datetime, now: datetime) -> str:
    """`4m`, `1h02m`, `2d03h`: how long ago, as a compact age."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    minutes = max(0, int((now - when).total_seconds() // 60))
    if minutes >= 24 * 60:
        return f"{minutes // (24 * 60)}d{(minutes // 60) % 24:02d}h"
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes}m"


def thread_url(channel: str, thread_ts: str) -> str:
    return "https://slack.com/app_redirect?" + urlencode(
        {"channel": channel, "message_ts": thread_ts}
    )
