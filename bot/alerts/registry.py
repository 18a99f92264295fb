"""Which parser reads a payload: the registry, tried in a fixed order, never raising.

`parse_payload` takes any decoded JSON (a Slack Events API envelope, a bare Slack message, an
Alertmanager webhook, an SNS CloudWatch notification, or something unknown) and returns the
normalized alerts in it. Slack control payloads and people's ordinary messages give `[]`; an
integration's post in an unknown format gives one `generic` alert, so nothing is dropped.

People paste links and alert words into alert channels all the time ("did anyone ack <PD link>?"),
so a person's message only counts when it matches a source's format exactly (an Alertmanager or
Grafana group title, a CloudWatch alarm), never on a link or a keyword.

Payloads are attacker-reachable, so every entry point catches everything and degrades: a parser
bug costs one alert's detail, never the bot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from bot.alerts import (
    alertmanager,
    announcements,
    cloudwatch,
    datadog,
    generic,
    grafana,
    healthchecks,
    icinga,
    kibana,
    newrelic,
    opsgenie,
    pagerduty,
    robusta,
    sentry,
    splunk,
    uptime_kuma,
    zabbix,
)
from bot.alerts.common import as_dict, clean, message_text
from bot.models import Alert

log = structlog.get_logger(__name__)

Parser = Callable[[dict[str, Any]], list[Alert] | None]

MAX_ALERTS = 1000

# The fixed order. Alertmanager hands Grafana's look-alike titles on (it checks the footer).
PARSERS: tuple[tuple[str, Parser], ...] = (
    ("robusta", robusta.parse),  # its `[RESOLVED] …` text would read as an Alertmanager title
    ("alertmanager", alertmanager.parse),
    ("grafana", grafana.parse),
    ("datadog", datadog.parse),
    ("pagerduty", pagerduty.parse),
    ("opsgenie", opsgenie.parse),
    ("sentry", sentry.parse),
    ("cloudwatch", cloudwatch.parse),
    ("zabbix", zabbix.parse),
    ("healthchecks", healthchecks.parse),
    ("splunk", splunk.parse),
    ("uptime_kuma", uptime_kuma.parse),
    ("icinga", icinga.parse),
    ("kibana", kibana.parse),
)
# Formats specific enough that a person's message carrying them is an alert, not a chat line.
EXACT_FORMATS = frozenset({"alertmanager", "grafana", "cloudwatch"})

NOT_MESSAGES = frozenset(
    {
        "url_verification",
        "ssl_check",
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
        "block_suggestion",
        "dialog_submission",
        "workflow_step_edit",
        "app_rate_limited",
    }
)
IGNORED_SUBTYPES = frozenset(
    {
        "message_deleted",
        "message_replied",
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "pinned_item",
        "unpinned_item",
        "bot_add",
        "bot_remove",
        "ekm_access_denied",
        "reminder_add",
    }
)
_MESSAGE_KEYS = ("attachments", "blocks", "bot_id", "subtype", "bot_profile", "username")


def is_from_integration(message: dict[str, Any]) -> bool:
    """Posted by a bot or app (how alerting tools post), not typed by a person."""
    if not isinstance(message, dict):
        return False
    return bool(
        message.get("bot_id")
        or message.get("subtype") == "bot_message"
        or message.get("app_id")
        or isinstance(message.get("bot_profile"), dict)
    )


def parse_message(message: dict[str, Any]) -> list[Alert]:
    """Alerts in one Slack message object; `[]` when it is not an alert. Never raises."""
    try:
        return _parse_message(message)[:MAX_ALERTS]
    except Exception:  # a parser bug must never take the bot down or lose the post
        log.exception("alert_parse_failed")
        return _generic_fallback(message)


def _generic_fallback(message: object) -> list[Alert]:
    try:
        if isinstance(message, dict) and is_from_integration(message):
            return generic.parse(message) or []
    except Exception:
        log.exception("generic_fallback_failed")
    return []


def edited_message(event: dict[str, Any]) -> dict[str, Any] | None:
    """The message as it is now, from a `message_changed` event (None for anything else).

    Tools edit their post when the alert changes (Zabbix's recovery, Sentry's resolve, an ack
    button): the inner `message` carries the new content; the channel is the event's.
    """
    if not isinstance(event, dict) or event.get("subtype") != "message_changed":
        return None
    inner = event.get("message")
    if not isinstance(inner, dict) or not isinstance(inner.get("ts"), str):
        return None
    return {**inner, "channel": event.get("channel")}


def _parse_message(message: dict[str, Any]) -> list[Alert]:
    if not isinstance(message, dict):
        return []
    edited = edited_message(message)
    if edited is not None:  # an edit: the alert as the message now reads
        return _parse_message(edited) if edited.get("subtype") != "message_changed" else []
    if message.get("hidden") is True:
        return []
    subtype = message.get("subtype")
    if subtype is not None and (not isinstance(subtype, str) or subtype in IGNORED_SUBTYPES):
        return []
    integration = is_from_integration(message)
    for name, parser in PARSERS:
        if not integration and name not in EXACT_FORMATS:
            continue
        alerts = parser(message)
        if alerts is not None:
            log.debug("alert_parsed", parser=name, count=len(alerts))
            return alerts
    if not integration:
        return []
    found = announcements.announcement(message)
    if found is not None:
        log.info("deploy_announcement", tool=found.tool, service=found.service)
        return []
    return generic.parse(message) or []


def parse_alertmanager_webhook(body: dict[str, Any]) -> list[Alert]:
    """Alerts in an Alertmanager webhook (v4) body; `[]` for anything else. Never raises."""
    try:
        return alertmanager.parse_webhook(body) if isinstance(body, dict) else []
    except Exception:
        log.exception("alertmanager_webhook_parse_failed")
        return []


def parse_payload(payload: object) -> list[Alert]:
    """Alerts in any decoded JSON value. Never raises."""
    try:
        return _parse_payload(payload)[:MAX_ALERTS]
    except Exception:
        log.exception("payload_parse_failed")
        return []


def _parse_payload(payload: object) -> list[Alert]:
    if not isinstance(payload, dict):
        return []
    kind = payload.get("type")
    if kind in NOT_MESSAGES or "command" in payload or "challenge" in payload:
        return []
    if isinstance(payload.get("payload"), str) or "actions" in payload or "view" in payload:
        return []  # interactivity: the form-encoded `payload` string, or its decoded body
    if kind == "event_callback":
        event = as_dict(payload.get("event"))
        return parse_message(event) if event.get("type") in ("message", "app_mention") else []
    if isinstance(payload.get("alerts"), list) and (
        "groupKey" in payload or "receiver" in payload or payload.get("version") == "4"
    ):
        return parse_alertmanager_webhook(payload)
    if newrelic.is_newrelic(payload):
        return newrelic.parse(payload)
    if "AlarmName" in payload or (
        payload.get("Type") == "Notification" and "AlarmName" in clean(payload.get("Message"), 1000)
    ):
        sns = cloudwatch.embedded_json(clean(payload.get("Message"), 100_000)) or payload
        alert = cloudwatch.parse_sns(sns)
        return [alert] if alert else []
    if kind == "message" or any(key in payload for key in _MESSAGE_KEYS):
        return parse_message(payload)
    return _unknown_object(payload)


def _unknown_object(payload: dict[str, Any]) -> list[Alert]:
    """A JSON object no one claims: best effort from its text-like fields, if it has any.

    Looks one level down too (`payload`, `data`, `alert`, `detail`), where webhook-style bodies
    such as PagerDuty's Events API keep their summary.
    """
    text = _text_fields(payload)
    for key in ("payload", "data", "alert", "detail"):
        text = text or _text_fields(as_dict(payload.get(key)))
    text = text or message_text(payload)
    alert = generic.from_text(text) if text else None
    return [alert] if alert else []


def _text_fields(obj: dict[str, Any]) -> str:
    keys = ("title", "summary", "text", "message", "description", "details")
    return "\n".join(p for p in (clean(obj.get(k), 10_000) for k in keys) if p)
