"""Datadog monitor notifications posted by the Datadog Slack integration.

Title: `Triggered: [P2] <monitor name>` (also `Recovered:`, `Warn:`, `Re-Triggered:`,
`Renotify:`, `No Data:`), linked to `…/monitors/<id>`; text is the monitor message and the
"… was > X on average during the last 5m" line; tags come as `key:value` in the footer or text.
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
    severity_in_text,
    unslack,
)
from bot.models import Alert

_TITLE = re.compile(
    r"^\s*(Triggered|Recovered|Warn|Re-Triggered|Renotify|No Data|Alert|Warning|Resolved)"
    r"\s*:\s*(?:\[(P[1-5])\]\s*)?(.+)$",
    re.IGNORECASE,
)
_MONITOR = re.compile(r"https://[\w.-]*datadoghq\.(?:com|eu)/monitors/(\d+)")
_TAG = re.compile(r"\b([a-z_][\w.\-/]{0,60}):([\w.\-/]{1,120})\b")


def parse(message: dict[str, Any]) -> list[Alert] | None:
    everything = message_text(message)
    monitor = _MONITOR.search(everything)
    if not monitor:
        return None
    for candidate in [
        clean(as_dict(att).get("title"), 1000) for att in as_list(message.get("attachments"))
    ] + [clean(message.get("text"), 1000)]:
        match = _TITLE.match(unslack(candidate).split("\n")[0])
        if match:
            break
    else:
        return None
    state, priority, name = match.group(1).lower(), match.group(2), match.group(3).strip()
    name = re.sub(r"\s*\(https?://[^)]*\)\s*$", "", name)
    tag_text = "\n".join(
        clean(as_dict(att).get("footer"), 2000) for att in as_list(message.get("attachments"))
    )
    tag_text += "\n" + everything
    tags = {k: v for k, v in _TAG.findall(tag_text) if k not in ("http", "https")}
    sev = severity(priority) if priority else severity_in_text(state)
    body = "\n".join(
        clean(as_dict(att).get("text"), 4000) for att in as_list(message.get("attachments"))
    )
    return [
        make_alert(
            source="datadog",
            status="resolved" if state in ("recovered", "resolved") else "firing",
            name=name,
            severity_=sev if sev != "unknown" else ("warning" if state == "warn" else "unknown"),
            lbls={**tags, "monitor_id": monitor.group(1)},
            summary=name,
            description=unslack(body),
            fingerprint=None,
            source_url=monitor.group(0),
        )
    ]
