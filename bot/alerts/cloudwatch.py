"""CloudWatch alarms: AWS Chatbot posts, and the raw SNS alarm JSON.

AWS Chatbot titles its post `CloudWatch Alarm | <name> | <region> | Account: <id>`, linked to the
alarm in the console, with the reason (`… for OK -> ALARM transition`) as text. An SNS
notification (top level, or relayed as a message's text) is JSON whose `Message` is the alarm:
`AlarmName`, `NewStateValue` (`ALARM`, `OK`, `INSUFFICIENT_DATA`), `NewStateReason`,
`StateChangeTime`, `Region` (a display name; the code is in `AlarmArn`), `AWSAccountId` and a
`Trigger` with metric and dimensions. Both shapes share one identity: name, region, account.
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
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert, Severity

_CHATBOT = re.compile(
    r"CloudWatch Alarm\s*\|\s*([^|\n]+?)\s*\|\s*([a-z]{2}(?:-[a-z]+)+-\d)"
    r"\s*(?:\|\s*Account:\s*(\d+))?",
    re.IGNORECASE,
)
_TO_OK = re.compile(r"(?:->|→|\bto)\s*OK\b|\b(?:Current )?State:\s*\*?OK\b", re.IGNORECASE)
_ARN_REGION = re.compile(r"^arn:aws[\w-]*:cloudwatch:([a-z]{2}(?:-[a-z]+)+-\d):")
_SEVERITY: dict[str, Severity] = {"ALARM": "high", "OK": "high", "INSUFFICIENT_DATA": "warning"}


def console_url(name: str, region: str) -> str | None:
    if not name or not region:
        return None
    return f"https://console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"


def _fingerprint(name: str, region: str, account: str) -> str:
    return fingerprint_for("cloudwatch", name, {"region": region, "account": account})


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
    arn_region = _ARN_REGION.match(clean(alarm.get("AlarmArn"), 300))
    region = arn_region.group(1) if arn_region else clean(alarm.get("Region"), 60)
    account = clean(alarm.get("AWSAccountId"), 20)
    lbls = {
        "region": region,
        "account": account,
        "aws_namespace": clean(trigger.get("Namespace"), 100),
        "metric": clean(trigger.get("MetricName"), 100),
        **dims,
    }
    return make_alert(
        source="cloudwatch",
        status="resolved" if state == "OK" else "firing",
        name=name,
        severity_=_SEVERITY.get(state, "unknown"),
        lbls={k: v for k, v in lbls.items() if k and v},
        summary=clean(alarm.get("AlarmDescription"), 500) or name,
        description=clean(alarm.get("NewStateReason"), 4000),
        fingerprint=_fingerprint(name, region, account),
        starts_at=timestamp(alarm.get("StateChangeTime")),
        service=dims.get("ServiceName") or dims.get("FunctionName") or None,
        source_url=console_url(name, region) if arn_region else None,
    )


def embedded_json(text: str) -> dict[str, Any] | None:
    """The alarm JSON in a text: bare, or inside an SNS envelope's `Message` string."""
    start = text.find("{")
    if start < 0 or "AlarmName" not in text:
        return None
    try:
        value = json.loads(text[start : text.rfind("}") + 1])
        if isinstance(value, dict) and isinstance(value.get("Message"), str):
            value = json.loads(value["Message"])
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def parse(message: dict[str, Any]) -> list[Alert] | None:
    embedded = embedded_json(clean(message.get("text"), 100_000))
    if embedded:
        alert = parse_sns(embedded)
        if alert:
            return [alert]
    text = message_text(message)
    match = _CHATBOT.search(text)
    if not match:
        return None
    name, region, account = match.group(1).strip(), match.group(2), match.group(3) or ""
    state = "OK" if _TO_OK.search(text) else "ALARM"
    if "INSUFFICIENT_DATA" in text and state != "OK":
        state = "INSUFFICIENT_DATA"
    reason, link, description = "", None, ""
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        reason = reason or clean(att.get("text"), 4000)
        link = link or clean(att.get("title_link"), 2000) or None
        for field in as_list(att.get("fields"))[:50]:
            field = as_dict(field)
            if "description" in clean(field.get("title"), 100).lower():
                description = clean(field.get("value"), 500)
    return [
        make_alert(
            source="cloudwatch",
            status="resolved" if state == "OK" else "firing",
            name=name,
            severity_=_SEVERITY[state],
            lbls={k: v for k, v in {"region": region, "account": account}.items() if v},
            summary=description or name,
            description=unslack(reason or text),
            fingerprint=_fingerprint(name, region, account),
            source_url=link or console_url(name, region),
        )
    ]
