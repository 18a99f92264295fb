"""PagerDuty incidents posted by the PagerDuty Slack app.

Posts link to `…pagerduty.com/incidents/<id>` and say the state (`Triggered`, `Acknowledged`,
`Resolved`), the incident number and title, and usually `Service`, `Urgency`, `Priority` and
`Assigned` as fields or `Label: value` lines.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import clean, make_alert, message_text, severity, unslack
from bot.models import Alert

_INCIDENT = re.compile(r"https://[\w.-]*pagerduty\.com/incidents/([A-Z0-9]+)")
_STATE = re.compile(r"\b(Triggered|Acknowledged|Resolved|Reassigned|Escalated)\b", re.IGNORECASE)
_NUMBER_TITLE = re.compile(r"#(\d+)[:\s]+\s*(?:<[^|>]+\|)?([^>\n]+?)>?\s*(?:\n|$)")


def _field(text: str, label: str) -> str:
    match = re.search(rf"^\*?{label}\*?\s*:\s*\*?(.+?)\*?$", text, re.MULTILINE | re.IGNORECASE)
    return clean(unslack(match.group(1)), 300) if match else ""


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = message_text(message)
    incident = _INCIDENT.search(text)
    if not incident:
        return None
    state = _STATE.search(text)
    status_word = (state.group(1) if state else "Triggered").lower()
    number = _NUMBER_TITLE.search(text)
    title = clean(number.group(2), 200) if number else ""
    service = _field(text, "Service")
    urgency = _field(text, "Urgency")
    priority = _field(text, "Priority")
    sev = severity(priority) if priority else severity(urgency)
    lbls = {"incident_id": incident.group(1), "pagerduty_state": status_word}
    if number:
        lbls["incident_number"] = number.group(1)
    if urgency:
        lbls["urgency"] = urgency
    return [
        make_alert(
            source="pagerduty",
            status="resolved" if status_word == "resolved" else "firing",
            name=title or f"PagerDuty incident {incident.group(1)}",
            severity_=sev,
            lbls=lbls,
            summary=title,
            description=unslack(text)[:4000],
            fingerprint=f"pd-{incident.group(1)}",
            service=service or None,
            source_url=incident.group(0),
        )
    ]
