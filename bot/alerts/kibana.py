"""Kibana alerting, through its Slack connector (which posts the rule action's message as text).

What is parsed is Kibana's *default* action messages: the APM, infrastructure and observability
rules' `{{context.reason}}\\n\\n<rule> is active with the following conditions:\\n\\n- Key: value
…\\n\\n[View alert details](<url>)` (`<rule> has recovered.` for the recovery message) and the
Elasticsearch query rule's `Elasticsearch query rule '<rule>' is active:` followed by `- Value:`,
`- Conditions Met:`, `- Timestamp:` and `- Link:` lines. The `- Key: value` lines are labels;
`Service name` and `Environment` are the alert's service and environment.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import MAX_LABEL_CHARS, clean, make_alert, plain, urls_in
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_RULE = re.compile(
    r"^(?:Elasticsearch query rule )?'?(?P<name>[^'\n]{1,200}?)'? "
    r"(?P<state>is active(?: with the following conditions)?|has recovered|is recovered)[:.]?\s*$",
    re.MULTILINE,
)
_ITEM = re.compile(r"^-\s*([A-Z][\w ]{0,40}?):\s*'?(.*?)'?\s*$", re.MULTILINE)
_DETAILS = re.compile(r"\[View alert details\]\('?(https?://[^)\s']+)'?\)")


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = plain(clean(message.get("text"), 50_000))
    rule = _RULE.search(text)
    if not rule:
        return None
    items = {clean(k, MAX_LABEL_CHARS): clean(v, MAX_LABEL_CHARS) for k, v in _ITEM.findall(text)}
    if not items:
        return None
    name = rule.group("name").strip()
    reason = text[: rule.start()].strip().removeprefix("Recovered").strip(" '")
    details = _DETAILS.search(text)
    link = details.group(1) if details else next(iter(urls_in(items.get("Link", ""))), None)
    lbls = {k.lower().replace(" ", "_"): v for k, v in items.items() if k not in ("Link",)}
    return [
        make_alert(
            source="kibana",
            status="firing" if rule.group("state").startswith("is active") else "resolved",
            name=name,
            lbls=lbls,
            summary=reason.splitlines()[0] if reason else name,
            description=text[:4000],
            fingerprint=fingerprint_for("kibana", name, {}),
            source_url=link,
            service=items.get("Service name"),
            environment=items.get("Environment"),
        )
    ]
