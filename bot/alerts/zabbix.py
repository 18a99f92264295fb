"""Zabbix, its official Slack media type (`templates/media/slack/media_slack.yaml`).

The media type posts one attachment per event: title and fallback are the action's subject
(defaults `Problem: {EVENT.NAME}`, `Resolved in {EVENT.DURATION}: {EVENT.NAME}`,
`Updated problem in {EVENT.AGE}: {EVENT.NAME}`), the title links to
`tr_events.php?triggerid=…&eventid=…`, and the fields are `Host` (`name [conn]`), `Event time`,
`Severity`, `Opdata`, and on full posts `Event tags` (`tag: value` lines) and
`Trigger description`. The colour is the severity's, or `#009900` once resolved. In its default
"alarm" mode a recovery is not a new post: Zabbix *edits* the problem post (`chat.update`), so
recoveries arrive as `message_changed` (the registry hands the edited message here).
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import MAX_LABEL_CHARS, as_dict, as_list, clean, make_alert, url
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert, Severity

_SUBJECT = re.compile(
    r"^(?:(Problem)|(Resolved)(?: in [^:]+)?|Updated problem(?: in [^:]+)?)\s*:\s*(.+)$", re.I
)
_SEVERITY: dict[str, Severity] = {
    "disaster": "critical",
    "high": "high",
    "average": "warning",
    "warning": "warning",
    "information": "info",
    "not classified": "unknown",
}
RESOLVE_COLOR = "#009900"


def parse(message: dict[str, Any]) -> list[Alert] | None:
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        table = {
            clean(f.get("title"), 100): clean(f.get("value"), 2000)
            for f in (as_dict(x) for x in as_list(att.get("fields"))[:50])
        }
        if "Host" not in table or "Event time" not in table:
            continue
        match = _SUBJECT.match(clean(att.get("title") or att.get("fallback"), 1000))
        if not match:
            continue
        link = url(att.get("title_link"))
        trigger = re.search(r"triggerid=(\d+)", link or "")
        host = table["Host"].split(" [")[0].strip()
        lbls = {"host": host}
        for line in table.get("Event tags", "").splitlines()[:64]:
            key, sep, value = line.partition(":")
            if sep and key.strip() and value.strip() and not key.startswith("__"):
                lbls[clean(key, MAX_LABEL_CHARS)] = clean(value, MAX_LABEL_CHARS)
        resolved = bool(match.group(2)) or clean(att.get("color"), 20).upper() == RESOLVE_COLOR
        name = match.group(3).strip()
        return [
            make_alert(
                source="zabbix",
                status="resolved" if resolved else "firing",
                name=name,
                severity_=_SEVERITY.get(table.get("Severity", "").lower(), "unknown"),
                lbls=lbls,
                summary=table.get("Trigger description") or name,
                description="\n".join(
                    f"{k}: {v}"
                    for k, v in table.items()
                    if k in ("Opdata", "Event time", "Details")
                ),
                fingerprint=fingerprint_for(
                    "zabbix", trigger.group(1) if trigger else name, {"host": host}
                ),
                source_url=link,
            )
        ]
    return None
