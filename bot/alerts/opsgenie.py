"""Opsgenie alerts posted by the Opsgenie Slack app.

Posts link to `…app.opsgenie.com/alert/detail/<id>` (or `…/alert/<id>`), say the action in the
pretext (`New alert created`, `Alert acknowledged by …`, `Alert closed by …`), carry
`#<tinyId>: <message>` as the title and fields such as `Priority: P1`, `Tags`, `Source`,
`Routed Teams`. The alert id in the link is Opsgenie's identity for the alert.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    clean,
    env_in_text,
    make_alert,
    message_text,
    sender,
    severity,
    unlink,
    unslack,
)
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_LINK = re.compile(r"https://[\w.-]*opsgenie\.com/alert/(?:detail/)?([\w-]+)")
_TITLE = re.compile(r"#(\d+)\s*:\s*([^\n]+)")
_CLOSED = re.compile(r"\balert closed\b|\bclosed by\b|\[closed\]|^Status:\s*Closed", re.I | re.M)


def _field(text: str, label: str) -> str:
    match = re.search(rf"^\*?{label}\*?\s*:\s*(.+)$", text, re.MULTILINE | re.IGNORECASE)
    return clean(unlink(match.group(1)), 500) if match else ""


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = message_text(message)
    link = _LINK.search(text)
    if not link and "opsgenie" not in sender(message):
        return None
    title = _TITLE.search(unlink(text))
    name = clean(title.group(2).strip(" *>"), 200) if title else clean(text.split("\n")[0], 200)
    tags = _field(text, "Tags")
    priority = _field(text, "Priority")
    lbls = {"priority": priority, "tags": tags, "tiny_id": title.group(1) if title else ""}
    return [
        make_alert(
            source="opsgenie",
            status="resolved" if _CLOSED.search(text) else "firing",
            name=name or "OpsgenieAlert",
            severity_=severity(priority),
            lbls={k: v for k, v in lbls.items() if v},
            summary=name,
            description=unslack(text),
            fingerprint=fingerprint_for("opsgenie", link.group(1), {}) if link else None,
            service=_field(text, "Source") or None,
            environment=env_in_text(tags),
            source_url=link.group(0) if link else None,
        )
    ]
