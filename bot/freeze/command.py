"""Parse `/wizard freeze …` text into a command, and format the status reply.

Pure so the listener only routes: `freeze on for 2h services order-gateway,fix-engine vendor
outage`, `freeze on until 2026-12-01T18:00Z venues XLON quarter-end checks`, `freeze off`,
`freeze status`. Times must carry a zone (Z or an offset): a freeze that ends an hour early
because someone meant London time is worse than a one-line error.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from bot.freeze.store import FreezeChange
from bot.freeze.windows import FreezeScope, FreezeWindow

USAGE = (
    "usage: `/wizard freeze on [for 2h|until 2026-12-01T18:00Z] [services a,b] [venues XLON,XNYS] "
    "reason…` · `/wizard freeze off` · `/wizard freeze status`"
)
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


class FreezeCommandError(ValueError):
    """The command text is wrong; the message says how and ends with the usage line."""


class FreezeCommand(BaseModel):
    action: Literal["on", "off", "status"]
    until: datetime | None = None
    scope: FreezeScope = FreezeScope()
    reason: str = ""


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.lower())
    if not text or match is None or not any(match.groups()):
        raise FreezeCommandError(f"cannot read duration {text!r} (use 30m, 2h, 1d, 1h30m). {USAGE}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise FreezeCommandError(f"cannot read time {text!r}. {USAGE}") from None
    if value.tzinfo is None:
        raise FreezeCommandError(f"time {text!r} needs a zone: add Z or +01:00. {USAGE}")
    return value


def _names(text: str) -> list[str]:
    return [part for part in text.split(",") if part.strip()]


def parse_freeze_command(text: str, now: datetime) -> FreezeCommand:
    """`text` is what follows `freeze` (e.g. "on for 2h vendor outage"); `now` is aware."""
    words = text.split()
    if not words or words[0].lower() == "status":
        return FreezeCommand(action="status")
    action, rest = words[0].lower(), words[1:]
    if action == "off":
        return FreezeCommand(action="off", reason=" ".join(rest))
    if action != "on":
        raise FreezeCommandError(f"unknown freeze action {words[0]!r}. {USAGE}")
    until: datetime | None = None
    services: list[str] = []
    venues: list[str] = []
    while len(rest) >= 2 and rest[0].lower() in {"for", "until", "services", "service", "venues"}:
        keyword, value, rest = rest[0].lower(), rest[1], rest[2:]
        if keyword == "for":
            until = now + _duration(value)
        elif keyword == "until":
            until = _instant(value)
        elif keyword in {"services", "service"}:
            services += _names(value)
        else:
            venues += _names(value)
    if until is not None and until <= now:
        raise FreezeCommandError(f"the freeze would end in the past. {USAGE}")
    scope = FreezeScope(services=services, venues=venues)
    return FreezeCommand(action="on", until=until, scope=scope, reason=" ".join(rest))


def status_text(active: list[FreezeWindow], history: list[FreezeChange]) -> str:
    """The reply to `/wizard freeze status`: what is in force, then the last manual change."""
    if active:
        lines = ["Change freeze in force:", *(f"• {w.describe()}" for w in active)]
    else:
        lines = ["No change freeze in force."]
    if history:
        last = history[0]
        lines.append(
            f"Last manual change: {last.action} by {last.by} at {last.at:%Y-%m-%d %H:%M} UTC"
        )
    return "\n".join(lines)
