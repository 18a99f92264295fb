"""Sentry issue alerts posted by the Sentry Slack integration.

The post's title is the issue title (exception type and message) linked to
`…sentry.io/…/issues/<id>/`, with the culprit as text and `Project`, `Environment`, `Level`
(or `level:`/`environment:` tags) as fields. A `Resolved` action marks it resolved.
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
    unslack,
)
from bot.models import Alert

_ISSUE = re.compile(r"https://[\w.-]*sentry\.io/[\w/.-]*issues/(\d+)/?[^\s>|]*")
_LEVELS = {"fatal": "critical", "error": "high", "warning": "warning", "info": "info"}


def _field(text: str, label: str) -> str:
    match = re.search(rf"^\*?{label}\*?\s*:\s*`?([^`\n]+)`?$", text, re.MULTILINE | re.IGNORECASE)
    return clean(match.group(1), 200) if match else ""


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = message_text(message)
    issue = _ISSUE.search(text)
    if not issue:
        return None
    title = ""
    for att in as_list(message.get("attachments")):
        title = clean(as_dict(att).get("title"), 300)
        if title:
            break
    if not title:
        first = re.search(r"<https?://[^|>]*sentry\.io[^|>]*\|([^>]+)>", text)
        title = clean(first.group(1), 300) if first else clean(text.split("\n")[0], 300)
    level = _field(text, "Level").lower()
    env = _field(text, "Environment")
    project = _field(text, "Project")
    lowered = text.lower()
    resolved = "resolved by" in lowered or "marked as resolved" in lowered
    lbls = {"issue_id": issue.group(1), "project": project, "level": level}
    return [
        make_alert(
            source="sentry",
            status="resolved" if resolved else "firing",
            name=unslack(title) or f"Sentry issue {issue.group(1)}",
            severity_=severity(_LEVELS.get(level, level)) if level else "high",
            lbls={k: v for k, v in lbls.items() if v},
            summary=unslack(title),
            description=unslack(text)[:4000],
            fingerprint=f"sentry-{issue.group(1)}",
            service=project or None,
            environment=env or None,
            source_url=issue.group(0),
        )
    ]
