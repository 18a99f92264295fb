"""Datadog monitor notifications posted by the Datadog Slack integration.

The post's title names the transition and the monitor, in any of the shapes Datadog has used:
`Triggered: <name>`, `[P1] Triggered: <name>`, `Triggered: [P1] <name>`, and the email-style
`[P1] [Triggered on {host:x}] <name>`; it is linked to `…/monitors/<id>` (with `?group=` for a
multi-alert monitor). The text is the monitor message and the "… was > X on average during the
last 5m" line; tags come as `key:value` in the footer or text.

Titles change between states and the text carries values, so identity is the monitor id plus
its group, never the text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.alerts.common import (
    as_dict,
    as_list,
    clean,
    make_alert,
    message_text,
    runbook_and_dashboard,
    severity,
    unslack,
)
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_STATES = r"Triggered|Re-Triggered|Recovered|Warn|Warning|Renotify|No Data|Resolved|Alert"
_PRIORITY = r"\[(P[1-5])\]\s*"
_TITLE = re.compile(
    rf"^\s*(?:{_PRIORITY})?\[?({_STATES})(?:\s+on\s+(\{{[^}}]*\}}))?\]?\s*:?\s*"
    rf"(?:{_PRIORITY})?(.+)$",
    re.IGNORECASE,
)
_MONITOR = re.compile(r"https://[\w.-]*datadoghq\.(?:com|eu)/monitors/(\d+)[^\s|>)]*")
_TAG = re.compile(r"\b([a-z_][\w.\-/]{0,60}):([\w.\-/]{1,120})\b")
_RESOLVED = ("recovered", "resolved")


def parse(message: dict[str, Any]) -> list[Alert] | None:
    everything = message_text(message)
    monitor = _MONITOR.search(everything)
    if not monitor:
        return None
    candidates = [clean(as_dict(a).get("title"), 1000) for a in as_list(message.get("attachments"))]
    candidates.append(clean(message.get("text"), 1000))
    match = None
    for candidate in candidates:
        match = _TITLE.match(unslack(candidate).split("\n")[0])
        if match:
            break
    if not match:
        return None
    priority = match.group(1) or match.group(4)
    state = match.group(2).lower()
    name = re.sub(r"\s*\(https?://[^)]*\)\s*$", "", match.group(5)).strip()
    footers = [clean(as_dict(a).get("footer"), 2000) for a in as_list(message.get("attachments"))]
    tags = {
        k: v
        for k, v in _TAG.findall("\n".join([*footers, everything[:20_000]]))[:64]
        if k not in ("http", "https")
    }
    monitor_id = monitor.group(1)
    group = parse_qs(urlsplit(monitor.group(0)).query).get("group", [""])[0]
    body = "\n".join(
        clean(as_dict(a).get("text"), 4000) for a in as_list(message.get("attachments"))
    )
    sev = severity(priority) if priority else ("warning" if state.startswith("warn") else "unknown")
    identity = {"monitor_id": monitor_id, "group": clean(group or match.group(3), 256)}
    runbook, dashboard = runbook_and_dashboard(body)
    return [
        make_alert(
            source="datadog",
            status="resolved" if state in _RESOLVED else "firing",
            name=name,
            severity_=sev,
            lbls={**tags, "monitor_id": monitor_id},
            summary=name,
            description=unslack(body),
            fingerprint=fingerprint_for("datadog", monitor_id, identity),
            runbook=runbook,
            dashboard=dashboard,
            source_url=monitor.group(0),
        )
    ]
