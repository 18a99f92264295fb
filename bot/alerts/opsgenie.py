"""Opsgenie alerts posted by the Opsgenie Slack integration.

Posts link to `…app.opsgenie.com/alert/detail/<id>` (or `…/alert/<id>`), start with the action
(`New alert`, `Alert acknowledged`, `Alert closed`), carry `#<tinyId>: <message>` and fields such
as `Priority: P1`, `Tags`, `Source`, `Responders`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import clean, make_alert, message_text, sender, severity, unslack
from bot.models import Alert

_LINK = re.compile(r"https://[\w.-]*opsgenie\.com/alert/(?:detail/)?([\w-]+)")
_TITLE = re.compile(r"#(\d+)\s*:\s*(?:<[^|>]+\|)?([^>\n]+?)>?\s*(?:\n|$)")


def _field(text: str, label: str) -> str:
    match = re.search(rf"^\*?{label}\*?\s*:\s*(.+)$", text, re.MULTILINE | re.IGNORECASE)
    return clean(unslack(match.group(1)), 500) if match else ""


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = message_text(message)
    link = _LINK.search(text)
    if not link and "opsgenie" not in sender(message):
        return None
    lowered = text.lower()
    closed = "alert closed" in lowered or "closed by" in lowered or "[closed]" in lowered
    title = _TITLE.search(text)
    name = clean(title.group(2), 200) if title else clean(text.split("\n")[0], 200)
    tags = {clean(t, 100): "true" for t in re.split(r"[,\s]+", _field(text, "Tags")) if t}
    lbls = {**tags, "priority": _field(text, "Priority")}
    if title:
        lbls["tiny_id"] = title.group(1)
    lbls = {k: v for k, v in lbls.items() if v}
    return [
        make_alert(
            source="opsgenie",
            status="resolved" if closed else "firing",
            name=name or "OpsgenieAlert",
            severity_=severity(_field(text, "Priority")),
            lbls=lbls,
            summary=name,
            description=unslack(text)[:4000],
            fingerprint=f"og-{link.group(1)}" if link else None,
            service=_field(text, "Source") or None,
            source_url=link.group(0) if link else None,
        )
    ]
