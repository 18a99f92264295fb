"""Sentry issue alerts posted by the Sentry Slack integration.

The post links the issue title to `…sentry.io/…/issues/<id>/` (a Block Kit section, or the
attachment title in older posts), shows the culprit, the configured tags as
`environment: \\`prod\\`` pairs, a `State:` context line and a footer
`Project: <slug> | <SHORT-ID> | Alert: <rule>`; older posts use Project/Environment/Level
fields. The issue id is Sentry's identity for the issue, so it is the fingerprint's.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    as_dict,
    as_list,
    clean,
    make_alert,
    message_text,
    severity,
    unlink,
    unslack,
)
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_ISSUE = re.compile(r"https://[\w.-]*sentry\.io/[\w/.-]*issues/(\d+)/?[^\s>|]*")
_LINKED_TITLE = re.compile(r"<https://[\w.-]*sentry\.io/[^|>]*issues/\d+[^|>]*\|([^>]+)>")
_LEVELS = {"fatal": "critical", "error": "high", "warning": "warning", "info": "info"}
# Metric alerts (message_builder/incidents.py): text `<rule url|*Critical: <rule name>*>`, the
# value line in Block Kit inside a coloured attachment; Warning → Critical escalations arrive as
# `thread_broadcast` replies, the resolution as `Resolved: <rule name>`.
_METRIC = re.compile(
    r"<(https://[\w.-]*sentry\.io/[^|>]*alerts/rules/details/(\d+)/[^|>]*)\|\*?"
    r"(Critical|Warning|Resolved|Open): ([^*>]+)\*?>"
)
_METRIC_LEVEL = {"critical": "critical", "warning": "warning"}
_RESOLVED = re.compile(r"\bState:\s*\*?Resolved\b|\bresolved by\b|\bmarked as resolved\b", re.I)


def _tag(text: str, name: str) -> str:
    """`name: value`, `name: \\`value\\``, or a `*Name*: value` field line."""
    match = re.search(rf"\b{name}\*?\s*:\s*`?([\w.@:/+-]+)`?", text, re.IGNORECASE)
    return clean(match.group(1), 200) if match else ""


def _metric(message: dict[str, Any], text: str) -> list[Alert] | None:
    match = _METRIC.search(text)
    if not match:
        return None
    status, name = match.group(3).lower(), clean(match.group(4), 300).strip()
    value = next(
        (line for line in unslack(text).splitlines() if " in the last " in line), ""
    ).strip()
    return [
        make_alert(
            source="sentry",
            status="resolved" if status == "resolved" else "firing",
            name=name,
            severity_=severity(_METRIC_LEVEL.get(status, "")),
            lbls={"alert_rule_id": match.group(2)},
            summary=value or name,
            description=unslack(text)[:4000],
            fingerprint=fingerprint_for("sentry", "metric:" + match.group(2), {}),
            source_url=match.group(1),
        )
    ]


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = message_text(message)
    issue = _ISSUE.search(text)
    if not issue:
        return _metric(message, text)
    linked = _LINKED_TITLE.search(text)
    title = clean(linked.group(1), 300) if linked else ""
    for att in as_list(message.get("attachments"))[:20]:
        title = title or clean(as_dict(att).get("title"), 300)
    title = unlink(title or text.split("\n")[0]).strip(" *_`")
    level = _tag(text, "level").lower()
    project = _tag(text, "project")
    lbls = {
        "issue_id": issue.group(1),
        "project": project,
        "level": level,
        "release": _tag(text, "release"),
        "server_name": _tag(text, "server_name"),
    }
    return [
        make_alert(
            source="sentry",
            status="resolved" if _RESOLVED.search(text) else "firing",
            name=title or f"Sentry issue {issue.group(1)}",
            severity_=severity(_LEVELS.get(level, level)) if level else "high",
            lbls={k: v for k, v in lbls.items() if v},
            summary=title,
            description=unslack(text),
            fingerprint=fingerprint_for("sentry", issue.group(1), {}),
            service=project or None,
            environment=_tag(text, "environment") or None,
            source_url=issue.group(0),
        )
    ]
