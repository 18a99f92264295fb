"""Icinga 2 (and Nagios-style) Slack notification scripts (jjethwa/icinga2-slack-notification).

The widely used scripts post one line of text: `<icon> HOST: <url|host>   SERVICE: <url|service>
STATE: <state>` for services and `<icon> HOST: <url|host>  STATE: <state>\\n\\n Additional Info:
<output>` for hosts. The state is the *new* state: OK/UP are recoveries, WARNING/CRITICAL/UNKNOWN
and DOWN/UNREACHABLE are problems. A service check's name is not a business service, so it is the
alert's name (and `check` label), never its `service`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import MAX_DESCRIPTION, clean, make_alert, url
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert, Severity

_HOST = re.compile(r"HOST:\s*<([^|>]+)\|([^>]+)>")
_SERVICE = re.compile(r"SERVICE:\s*<([^|>]+)\|([^>]+)>")
_STATE = re.compile(r"STATE:\s*([A-Z]+)")
_INFO = re.compile(r"Additional Info:\s*(.+)", re.DOTALL)
_RESOLVED = frozenset({"OK", "UP"})
_SEVERITY: dict[str, Severity] = {"CRITICAL": "critical", "WARNING": "warning"}


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = clean(message.get("text"), 20_000)
    host, state = _HOST.search(text), _STATE.search(text)
    if not host or not state:
        return None
    service = _SERVICE.search(text)
    info = _INFO.search(text)
    host_name = clean(host.group(2), 200)
    check = clean(service.group(2), 200) if service else ""
    word = state.group(1)
    lbls = {"host": host_name, **({"check": check} if check else {})}
    return [
        make_alert(
            source="icinga",
            status="resolved" if word in _RESOLVED else "firing",
            name=check or host_name,
            severity_=_SEVERITY.get(word, "unknown"),
            lbls=lbls,
            summary=(
                clean(info.group(1), MAX_DESCRIPTION) if info else f"{check or host_name} {word}"
            ),
            fingerprint=fingerprint_for("icinga", check or "host", {"host": host_name}),
            source_url=url(service.group(1) if service else host.group(1)),
        )
    ]
