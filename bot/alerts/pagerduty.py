"""PagerDuty incidents posted by the PagerDuty Slack app.

Posts link to `…pagerduty.com/incidents/<id>` with the incident number and title
(`<url|#4821: FIX session down>`), say the state (`Triggered`, `Acknowledged`, `Resolved`), and
carry `Status`, `Service`, `Urgency`, `Priority` and `Assigned` as fields or `Label: value` lines.
The incident id is PagerDuty's own identity for the incident, so it is the fingerprint's.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import clean, make_alert, message_text, severity, unlink, unslack
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_INCIDENT = re.compile(r"https://[\w.-]*pagerduty\.com/incidents/([A-Za-z0-9]+)")
_LINKED_TITLE = re.compile(
    r"<https://[\w.-]*pagerduty\.com/incidents/[A-Za-z0-9]+[^|>]*\|\s*(?:#(\d+)\s*:?\s*)?([^>]+)>"
)
_PLAIN_TITLE = re.compile(r"#(\d+)\s*:\s*([^\n*>]+)")
_STATE = re.compile(r"\b(Triggered|Acknowledged|Resolved|Reassigned|Escalated)\b", re.IGNORECASE)


def _field(text: str, label: str) -> str:
    match = re.search(rf"^\*?{label}\*?\s*:\s*\*?(.+?)\*?$", text, re.MULTILINE | re.IGNORECASE)
    return clean(unlink(match.group(1)), 300) if match else ""


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = message_text(message)
    incident = _INCIDENT.search(text)
    if not incident:
        return None
    state = _field(text, "Status") or (m.group(1) if (m := _STATE.search(text)) else "Triggered")
    status_word = state.lower()
    titled = _LINKED_TITLE.search(text) or _PLAIN_TITLE.search(text)
    number, title = (titled.group(1), clean(titled.group(2), 200)) if titled else (None, "")
    urgency = _field(text, "Urgency")
    priority = _field(text, "Priority")
    lbls = {"incident_id": incident.group(1), "pagerduty_state": status_word, "urgency": urgency}
    if number:
        lbls["incident_number"] = number
    return [
        make_alert(
            source="pagerduty",
            status="resolved" if status_word == "resolved" else "firing",
            name=title or f"PagerDuty incident {incident.group(1)}",
            severity_=severity(priority) if priority else severity(urgency),
            lbls={k: v for k, v in lbls.items() if v},
            summary=title,
            description=unslack(text),
            fingerprint=fingerprint_for("pagerduty", incident.group(1), {}),
            service=_field(text, "Service") or None,
            source_url=incident.group(0),
        )
    ]
