"""Which parser reads a payload: the registry, tried in a fixed order, never raising.

`parse_payload` takes any decoded JSON (a Slack Events API envelope, a bare Slack message, an
Alertmanager webhook, an SNS CloudWatch notification, or something unknown) and returns the
normalized alerts in it. Slack control payloads and people's ordinary messages give `[]`; an
integration's post in an unknown format gives one `generic` alert, so nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from bot.alerts import (
    alertmanager,
    cloudwatch,
    datadog,
    generic,
    grafana,
    opsgenie,
    pagerduty,
    sentry,
)
from bot.alerts.common import as_dict, clean, message_text
from bot.models import Alert

log = structlog.get_logger(__name__)

Parser = Callable[[dict[str, Any]], list[Alert] | None]

# Specific before general: Grafana shares Alertmanager's title shape but has its own footer.
PARSERS: tuple[tuple[str, Parser], ...] = (
    ("grafana", grafana.parse),
    ("alertmanager", alertmanager.parse),
    ("datadog", datadog.parse),
    ("pagerduty", pagerduty.parse),
    ("opsgenie", opsgenie.parse),
    ("sentry", sentry.parse),
    ("cloudwatch", cloudwatch.parse),
)

NOT_MESSAGES = {
    "url_verification",
    "ssl_check",
    "block_actions",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "interactive_message",
    "block_suggestion",
    "app_rate_limited",
}
IGNORED_SUBTYPES = {
    "message_changed",
    "message_deleted",
    "message_replied",
    "channel_join",
    "channel_leave",
    "channel_topic",
    "channel_purpose",
    "channel_name",
    "channel_archive",
    "group_join",
    "pinned_item",
    "bot_add",
    "bot_remove",
    "thread_broadcast",
}


def is_from_integration(message: dict[str, Any]) -> bool:
    """Posted by a bot or app (how alerting tools post), not typed by a person."""
    return bool(
        message.get("bot_id")
        or message.get("subtype") == "bot_message"
        or message.get("app_id")
        or message.get("bot_profile")
    )


def parse_message(message: dict[str, Any]) -> list[Alert]:
    """Alerts in one Slack message object; `[]` when it is not an alert."""
    try:
        return _parse_message(message)
    except Exception:  # a parser bug must never take the bot down or lose the post
        log.exception("alert_parse_failed")
        if isinstance(message, dict) and is_from_integration(message):
            alert = generic.from_text(message_text(message))
            return [alert] if alert else []
        return []


def _parse_message(message: dict[str, Any]) -> list[Alert]:
    if not isinstance(message, dict) or message.get("subtype") in IGNORED_SUBTYPES:
        return []
    for name, parser in PARSERS:
        alerts = parser(message)
        if alerts is not None:
            log.debug("alert_parsed", parser=name, count=len(alerts))
            return alerts
    if is_from_integration(message):
        return generic.parse(message) or []
    return []


def parse_alertmanager_webhook(body: dict[str, Any]) -> list[Alert]:
    try:
        return alertmanager.parse_webhook(body) if isinstance(body, dict) else []
    except Exception:
        log.exception("alertmanager_webhook_parse_failed")
        return []


def parse_payload(payload: object) -> list[Alert]:
    """Alerts in any decoded JSON value. Never raises."""
    try:
        return _parse_payload(payload)
    except Exception:
        log.exception("payload_parse_failed")
        return []


def _parse_payload(payload: object) -> list[Alert]:
    if not isinstance(payload, dict):
        return []
    kind = payload.get("type")
    if kind in NOT_MESSAGES or "command" in payload or "challenge" in payload:
        return []
    if isinstance(payload.get("payload"), str | dict):  # interactivity form body
        return []
    if kind == "event_callback":
        event = as_dict(payload.get("event"))
        if event.get("type") not in ("message", "app_mention"):
            return []
        return parse_message(event)
    if isinstance(payload.get("alerts"), list) and (
        "groupKey" in payload or "receiver" in payload or payload.get("version") == "4"
    ):
        return parse_alertmanager_webhook(payload)
    if payload.get("Type") == "Notification" or "AlarmName" in payload:
        sns = cloudwatch.embedded_json(clean(payload.get("Message"), 100_000)) or payload
        alert = cloudwatch.parse_sns(sns)
        return [alert] if alert else []
    if kind == "message" or any(k in payload for k in ("attachments", "blocks", "bot_id")):
        return parse_message(payload)
    text = clean(payload.get("text") or payload.get("message") or payload.get("title"), 100_000)
    if text:
        alert = generic.from_text(text)
        return [alert] if alert else []
    return []
