"""The fallback for alert posts no source parser recognised: a best-effort alert from the text.

An unknown integration's post must still be triaged rather than dropped. The first line becomes
the name, severity and status come from keywords, and URLs become the source link.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import clean, make_alert, message_text, severity_in_text, unslack, urls_in
from bot.models import Alert

_RESOLVED = re.compile(r"\b(resolved|recovered|cleared|back to normal|closed)\b|\bOK\b", re.I)


def from_text(text: str) -> Alert | None:
    text = unslack(clean(text, 100_000))
    lines = [line.strip(" *_#>`") for line in text.splitlines() if line.strip(" *_#>`")]
    if not lines:
        return None
    first = re.sub(r"https?://\S+", "", lines[0]).strip() or lines[0]
    urls = urls_in(text)
    return make_alert(
        source="generic",
        status="resolved" if _RESOLVED.search(first) else "firing",
        name=first[:120],
        severity_=severity_in_text(text),
        summary=first,
        description="\n".join(lines[1:])[:4000],
        source_url=urls[0] if urls else None,
    )


def parse(message: dict[str, Any]) -> list[Alert] | None:
    alert = from_text(message_text(message))
    return [alert] if alert else None
