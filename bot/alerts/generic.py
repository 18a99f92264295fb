"""The fallback for alert posts no source parser recognised: a best-effort alert from the text.

An unknown integration's post must still be triaged rather than dropped. The first line becomes
the name, severity and status come from keywords, URLs become the source link, and
`Host:`/`Service:`-style lines become labels. When such identifying lines exist they, not the
first line (which changes from PROBLEM to RECOVERY), are the fingerprint's identity.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    MAX_DESCRIPTION,
    clean,
    make_alert,
    message_text,
    runbook_and_dashboard,
    severity_in_text,
    unslack,
    urls_in,
)
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_RESOLVED = re.compile(
    r"\b(resolved|recovered|recovery|cleared|back to normal|closed)\b|\bOK\b", re.IGNORECASE
)
_MARKUP = re.compile(r"[*~`]")
_KEY_LINE = re.compile(r"^\s*(\w[\w ]{0,30}?)\s*:\s*(\S.{0,255})$")
IDENTIFYING = frozenset(
    {"host", "hostname", "service", "instance", "env", "environment", "cluster", "region", "app"}
)


def _identifying_labels(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines[:100]:
        match = _KEY_LINE.match(line) if len(line) <= 300 else None
        if match and match.group(1).lower() in IDENTIFYING:
            key = match.group(1).lower()
            found.setdefault(key, clean(match.group(2).split(" (")[0], 256))
    return found


def from_text(text: str) -> Alert | None:
    text = unslack(clean(text, 100_000))
    lines = [_MARKUP.sub("", line).strip(" _#>") for line in text.splitlines()[:2000]]
    lines = [line for line in lines if line]
    if not lines:
        return None
    first = re.sub(r"https?://\S+", "", lines[0]).strip() or lines[0]
    lbls = _identifying_labels(lines[1:])
    urls = urls_in(text)
    level = severity_in_text(first)
    runbook, dashboard = runbook_and_dashboard(text)
    return make_alert(
        source="generic",
        status="resolved" if _RESOLVED.search(first) else "firing",
        name=first,
        severity_=level if level != "unknown" else severity_in_text(text),
        lbls=lbls,
        summary=first,
        description="\n".join(lines[1:])[:MAX_DESCRIPTION],
        fingerprint=fingerprint_for("generic", "", lbls) if lbls else None,
        runbook=runbook,
        dashboard=dashboard,
        source_url=urls[0] if urls else None,
    )


def parse(message: dict[str, Any]) -> list[Alert] | None:
    alert = from_text(message_text(message))
    return [alert] if alert else None
