"""Grafana unified alerting, Slack contact point.

The default template posts an attachment titled `[FIRING:N] <alertname> <folder> (<labels>)`
(`[FIRING:1, RESOLVED:1]` when mixed; footer "Grafana vX", which is how it is told apart from
Alertmanager) whose text is `**Firing**` / `**Resolved**` sections; each alert there is
`Value: …`, `Labels:` with ` - key = value` lines, `Annotations:` likewise, then `Source:`,
`Silence:`, `Dashboard:` and `Panel:` URLs. Status is per section, so a mixed post gives both.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    GROUP_TITLE,
    MAX_DESCRIPTION,
    MAX_LABEL_CHARS,
    as_dict,
    as_list,
    clean,
    looks_like_grafana,
    make_alert,
    severity,
    unslack,
)
from bot.models import Alert

MAX_ALERTS = 1000
_SECTION = re.compile(r"\*\*(Firing|Resolved)\*\*", re.IGNORECASE)


def _alert_blocks(text: str) -> list[tuple[str, str]]:
    """(status, block) per alert: split by section headers, then by `Value:` lines."""
    out: list[tuple[str, str]] = []
    parts = _SECTION.split(text)
    pairs = list(zip(parts[1::2], parts[2::2], strict=False)) or [("firing", text)]
    for status, body in pairs:
        blocks = re.split(r"(?=^Value:)", body.strip(), flags=re.MULTILINE)
        out += [(status.lower(), b) for b in blocks if "Labels:" in b or "Value:" in b]
    return out[:MAX_ALERTS]


def _pairs(block: str, heading: str) -> dict[str, str]:
    match = re.search(rf"^{heading}:\s*\n((?:\s*-\s*.+\n?)+)", block, re.MULTILINE)
    found: dict[str, str] = {}
    if match:
        for line in match.group(1).splitlines():
            key, sep, value = line.strip().lstrip("-").partition("=")
            if sep and key.strip():
                found[clean(key, MAX_LABEL_CHARS)] = clean(value, MAX_DESCRIPTION)
    return found


def _url_after(block: str, label: str) -> str | None:
    match = re.search(rf"^{label}:\s*(https?://\S+)", block, re.MULTILINE)
    return match.group(1) if match else None


def parse(message: dict[str, Any]) -> list[Alert] | None:
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        title = clean(att.get("title"), 1000)
        match = GROUP_TITLE.match(title)
        if not match or not looks_like_grafana(message, att):
            continue
        title_status = "resolved" if match.group(1).upper() == "RESOLVED" else "firing"
        text = unslack(clean(att.get("text"), 100_000))
        alerts = []
        for status, block in _alert_blocks(text) or [(title_status, text)]:
            lbls = _pairs(block, "Labels")
            ann = _pairs(block, "Annotations")
            value = re.search(r"^Value:\s*(.+)$", block, re.MULTILINE)
            alerts.append(
                make_alert(
                    source="grafana",
                    status="resolved" if status == "resolved" else "firing",
                    name=lbls.get("alertname") or match.group(2).split(" ")[0] or "GrafanaAlert",
                    severity_=severity(lbls.get("severity") or lbls.get("priority")),
                    lbls=lbls,
                    summary=ann.get("summary", ""),
                    description="\n".join(
                        x
                        for x in (ann.get("description", ""), value and f"Value: {value.group(1)}")
                        if x
                    ),
                    runbook=ann.get("runbook_url"),
                    dashboard=_url_after(block, "Dashboard") or _url_after(block, "Panel"),
                    source_url=_url_after(block, "Source") or clean(att.get("title_link"), 2000),
                )
            )
        return alerts
    return None
