"""Splunk, its "Slack Notification Alert" app (splunk/slack-alerts, `bin/slack.py`).

The message text is the alert action's configured message; with the alert-link attachment (the
default for saved searches) one attachment follows: title `:bell: <search name>` (`:zap: Ad-hoc
search` for ad-hoc ones) linked to the alert, text `<results link|Show results in Splunk> :mag:`,
footer `Splunk Alert`, and optional fields taken from the first result row. The severity is only
in the colour: the app's `SEVERITY_COLORS` indexed by the alert's severity (1 info … 5 critical).
Splunk never sends a recovery, so every post is firing.
"""

from __future__ import annotations

from typing import Any

from bot.alerts.common import as_dict, as_list, clean, fields, make_alert, plain, urls_in
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert, Severity

_COLOR_SEVERITY: dict[str, Severity] = {
    "#6DB7C6": "info",
    "#65A637": "info",
    "#F7BC38": "warning",
    "#F58F39": "high",
    "#D93F3C": "critical",
}


def parse(message: dict[str, Any]) -> list[Alert] | None:
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        if clean(att.get("footer"), 200) != "Splunk Alert":
            continue
        title = clean(att.get("title"), 500)
        name = title.removeprefix(":bell:").removeprefix(":zap:").strip() or "Splunk alert"
        table = fields(message)
        results = urls_in(plain(clean(att.get("text"), 5000)))
        if "Show results in Splunk" not in clean(att.get("text"), 5000):
            results = []  # attachment=message: the text is the alert's message, not a link
        return [
            make_alert(
                source="splunk",
                status="firing",
                name=name,
                severity_=_COLOR_SEVERITY.get(clean(att.get("color"), 20).upper(), "unknown"),
                lbls=table,
                summary=plain(clean(message.get("text") or att.get("text"), 2000)) or name,
                description="\n".join(f"{k}: {v}" for k, v in table.items()),
                fingerprint=fingerprint_for("splunk", name, {}),
                source_url=att.get("title_link") or (results[0] if results else None),
                dashboard=results[0] if results else None,
            )
        ]
    return None
