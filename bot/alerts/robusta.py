"""Robusta, its Slack sink (`src/robusta/integrations/slack/sender.py`).

A finding is posted with `text` = the finding's title (prefixed `[RESOLVED] ` once resolved) and
Block Kit blocks: a header line `<status> \\`firing\\` <severity> \\`high\\` <title>` (the title
linked to the Robusta UI when the platform is on), link buttons ("Investigate", "Silence"),
`*Source:* \\`<cluster>\\``, the description (`*Alert:* …`) and enrichments, among them the
alert's labels as a two-column table rendered `● <label> \\`<value>\\`` per row. The labels are
Prometheus' own, so the alert name and severity come from them before the header's words.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    MAX_LABEL_CHARS,
    MAX_LABELS,
    as_dict,
    as_list,
    block_texts,
    button_urls,
    clean,
    make_alert,
    plain,
    sender,
    severity,
)
from bot.alerts.fingerprint import alertmanager_fingerprint, fingerprint_for
from bot.models import Alert

_ROW = re.compile(r"^\s*●\s*([\w.\-/]{1,100})\s+`([^`]*)`\s*$", re.MULTILINE)
_HEADER = re.compile(r"`(firing|resolved)`.*?`(debug|info|low|medium|high)`", re.I)
_SOURCE = re.compile(r"\*Source:\*\s*`([^`]+)`")
_ALERT = re.compile(r"\*Alert:\*\s*(.+)")


def parse(message: dict[str, Any]) -> list[Alert] | None:
    blocks = [
        *as_list(message.get("blocks")),
        *(
            b
            for a in as_list(message.get("attachments"))[:20]
            for b in as_list(as_dict(a).get("blocks"))
        ),
    ]
    texts = block_texts(blocks)
    joined = "\n".join(texts)
    source = _SOURCE.search(joined)
    if not source or ("robusta" not in sender(message) and not _HEADER.search(joined)):
        return None
    title = clean(message.get("text"), 1000)
    resolved = title.startswith("[RESOLVED]")
    title = title.removeprefix("[RESOLVED]").strip()
    lbls: dict[str, str] = {}
    for key, value in _ROW.findall(joined)[:MAX_LABELS]:
        lbls.setdefault(clean(key, MAX_LABEL_CHARS), clean(value, MAX_LABEL_CHARS))
    header = _HEADER.search(joined)
    if header and header.group(1).lower() == "resolved":
        resolved = True
    level = severity(lbls.get("severity"))
    if level == "unknown" and header:
        level = severity(header.group(2))  # Robusta's own scale: high/medium/low/info/debug
    alert_line = _ALERT.search(joined)
    links = [u for u in button_urls(message) if "silence" not in u.lower()]
    lbls.setdefault("cluster", clean(source.group(1), MAX_LABEL_CHARS))
    name = lbls.get("alertname") or title or "RobustaFinding"
    return [
        make_alert(
            source="robusta",
            status="resolved" if resolved else "firing",
            name=name,
            severity_=level,
            lbls=lbls,
            summary=plain(alert_line.group(1)) if alert_line else title,
            description=plain(joined)[:4000],
            fingerprint=(
                alertmanager_fingerprint({k: v for k, v in lbls.items() if k != "cluster"})
                if "alertname" in lbls
                else fingerprint_for("robusta", name, {"cluster": lbls["cluster"]})
            ),
            source_url=links[0] if links else None,
            environment=lbls.get("env") or lbls.get("environment"),
        )
    ]
