"""CloudWatch alarms: AWS Chatbot posts, and the raw SNS alarm JSON.

AWS Chatbot titles its post `CloudWatch Alarm | <name> | <region> | Account: <id>` with the new
state (`ALARM`, `OK`, `INSUFFICIENT_DATA`) and the reason. An SNS notification relayed as text
(or handed to `wizard parse`) is JSON with `AlarmName`, `NewStateValue`, `NewStateReason`,
`StateChangeTime`, `Region`, `AWSAccountId` and a `Trigger` with metric and dimensions.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.alerts.common import (
    as_dict,
    as_list,
    clean,
    make_alert,
    message_text,
    timestamp,
    unslack,
)
from bot.models import Alert

_CHATBOT = re.compile(
    r"CloudWatch Alarm\s*\|\s*([^|\n]+?)\s*\|\s*([a-z]{2}-[a-z]+-\d)\s*(?:\|\s*Account:\s*(\d+))?",
    re.IGNORECASE,
)
_STATE = re.compile(r"\b(ALARM|OK|INSUFFICIENT_DATA)\b")


def parse_sns(alarm: dict[str, Any]) -> Alert | None:
    """A CloudWatch alarm state-change notification (the SNS `Message` JSON)."""
    name = clean(alarm.get("AlarmName"), 200)
    if not name or "NewStateValue" not in alarm:
        return None
    state = clean(alarm.get("NewStateValue"), 40).upper()
    trigger = as_dict(alarm.get("Trigger"))
    dims = {
        clean(as_dict(d).get("name") or as_dict(d).get("Name"), 100): clean(
            as_dict(d).get("value") or as_dict(d).get("Value"), 200
        )
        for d in as_list(trigger.get("Dimensions"))[:20]
    }
    lbls = {
        "region": clean(alarm.get("Region"), 60),
        "account": clean(alarm.get("AWSAccountId"), 20),
        "namespace": clean(trigger.get("Namespace"), 100),
        "metric": clean(trigger.get("MetricName"), 100),
        **dims,
    }
    return make_alert(
        source="cloudwatch",
        status="resolved" if state == "OK" else "firing",
        name=name,
        severity_="warning" if state == "INSUFFICIENT_DATA" else "high",
        lbls={k: v for k, v in lbls.items() if k and v},
        summary=clean(alarm.get("AlarmDescription"), 500) or name,
        description=clean(alarm.get("NewStateReason"), 4000),
        starts_at=timestamp(alarm.get("StateChangeTime")),
        service=dims.get("ServiceName") or dims.get("FunctionName") or None,
    )


def embedded_json(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0 or "AlarmName" not in text:
        return None
    try:
        value = json.loads(text[start : text.rfind("}") + 1])
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("Message"), str):
        try:
            value = json.loads(value["Message"])
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def parse(message: dict[str, Any]) -> list[Alert] | None:
    text = message_text(message)
    embedded = embedded_json(clean(message.get("text"), 100_000))
    if embedded:
        alert = parse_sns(embedded)
        if alert:
            return [alert]
    match = _CHATBOT.search(text)
    if not match:
        return None
    name, region, account = match.group(1).strip(), match.group(2), match.group(3)
    states = _STATE.findall(text)
    state = states[-1] if states else "ALARM"
    if re.search(r"(?:->|→|to)\s*OK\b", text):
        state = "OK"
    reason = ""
    for att in as_list(message.get("attachments")):
        reason = clean(as_dict(att).get("text"), 4000) or reason
    lbls = {"region": region, "account": account or ""}
    return [
        make_alert(
            source="cloudwatch",
            status="resolved" if state == "OK" else "firing",
            name=name,
            severity_="high" if state == "ALARM" else "warning",
            lbls={k: v for k, v in lbls.items() if v},
            summary=name,
            description=unslack(reason or text)[:4000],
        )
    ]
