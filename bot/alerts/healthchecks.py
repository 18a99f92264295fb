"""Healthchecks.io, its Slack integration (`templates/integrations/slack_message.json`).

One attachment titled `“<check name>” is DOWN.` / `… is UP.` (the fallback says
`The check "<name>" is DOWN.`), linked to the check, with fields `Description`, `Project`,
`Tags` (each tag in backticks), `Period` or `Schedule`, `Last Ping` and `Total Pings`. A tag that
is an environment word (`prod`, `uat` …) is the environment; nothing else is guessed.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import ENV_WORDS, as_dict, as_list, clean, fields, make_alert
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

_TITLE = re.compile(r'^(?:The check )?[“"](.{1,200})[”"] is (UP|DOWN)\.?$')


def parse(message: dict[str, Any]) -> list[Alert] | None:
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        match = _TITLE.match(clean(att.get("title"), 300)) or _TITLE.match(
            clean(att.get("fallback"), 300)
        )
        if not match:
            continue
        table = fields(message)
        if "Last Ping" not in table and "Total Pings" not in table:
            continue
        name = match.group(1)
        tags = re.findall(r"`([^`]{1,100})`", table.get("Tags", ""))
        env = next((t for t in tags if t.lower() in ENV_WORDS), None)
        lbls = {"project": table.get("Project", ""), "tags": " ".join(tags)}
        return [
            make_alert(
                source="healthchecks",
                status="resolved" if match.group(2) == "UP" else "firing",
                name=name,
                lbls={k: v for k, v in lbls.items() if v},
                summary=table.get("Description") or f"{name} is {match.group(2)}",
                description="\n".join(
                    f"{k}: {v}"
                    for k, v in table.items()
                    if k in ("Last Ping", "Schedule", "Period")
                ),
                fingerprint=fingerprint_for("healthchecks", name, {}),
                source_url=att.get("title_link"),
                environment=env,
            )
        ]
    return None
