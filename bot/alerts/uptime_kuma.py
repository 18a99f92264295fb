"""Uptime Kuma, its Slack notification provider (`server/notification-providers/slack.js`).

The monitor's message is `[<monitor name>] [✅ Up|🔴 Down] <heartbeat message>` (built in
`server/model/monitor.js`); the post's text is `Uptime Kuma Alert\\n<message>` and one
attachment repeats it as Block Kit (a header, `*Message*` / `*Time (UTC)*` fields and, when the
base URL is set, a "Visit Uptime Kuma" button to the monitor). "Up" is the recovery: the words
"OK" or "200" in the heartbeat message say nothing about the state.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import button_urls, clean, make_alert, message_text, plain
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_LINE = re.compile(r"^\[(.{1,200}?)\] \[(?:✅ |🔴 )?(Up|Down)\] ?(.*)$", re.MULTILINE)


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = plain(message_text(message))
    match = _LINE.search(text)
    if not match or "uptime kuma" not in text.lower()[:2000] + " " + str(message.get("username")):
        return None
    name = clean(match.group(1), 200)
    buttons = button_urls(message)
    return [
        make_alert(
            source="uptime_kuma",
            status="resolved" if match.group(2) == "Up" else "firing",
            name=name,
            summary=clean(match.group(3), 500),
            fingerprint=fingerprint_for("uptime_kuma", name, {}),
            source_url=buttons[0] if buttons else None,
        )
    ]
