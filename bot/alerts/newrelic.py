"""New Relic alerts, the workflow webhook's default payload.

New Relic workflows send issues as JSON: `issueUrl`, `title`, `priority` (CRITICAL/HIGH/MEDIUM/
LOW), `state` (CREATED, ACTIVATED, ACKNOWLEDGED, CLOSED), `impactedEntities`,
`alertConditionNames`, `alertPolicyNames`, epoch-millisecond `createdAt`/`updatedAt`. The issue
id is the identity; CLOSED is the recovery (ACKNOWLEDGED is still firing).
"""

from __future__ import annotations

from typing import Any

from bot.alerts.common import as_list, clean, make_alert, severity, timestamp
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert


def is_newrelic(payload: dict[str, Any]) -> bool:
    return "issueUrl" in payload and "state" in payload and "priority" in payload


def parse(payload: dict[str, Any]) -> list[Alert]:
    conditions = [clean(c, 200) for c in as_list(payload.get("alertConditionNames"))[:20]]
    entities = [clean(e, 200) for e in as_list(payload.get("impactedEntities"))[:20]]
    title = clean(payload.get("title"), 500)
    issue = clean(payload.get("id"), 100)
    state = clean(payload.get("state"), 30).upper()
    name = next((c for c in conditions if c), title) or "NewRelicIssue"
    lbls = {
        "policy": ", ".join(clean(p, 200) for p in as_list(payload.get("alertPolicyNames"))[:10]),
        "entities": ", ".join(e for e in entities if e),
        "state": state,
    }
    return [
        make_alert(
            source="newrelic",
            status="resolved" if state == "CLOSED" else "firing",
            name=name,
            severity_=severity(clean(payload.get("priority"), 20).lower()),
            lbls={k: v for k, v in lbls.items() if v},
            summary=title or name,
            fingerprint=fingerprint_for("newrelic", issue or name, {}),
            starts_at=timestamp(payload.get("createdAt")),
            source_url=payload.get("issueUrl"),
            service=next((e for e in entities if e), None),
        )
    ]
