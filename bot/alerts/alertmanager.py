"""Alertmanager: the webhook (v4 JSON) and its Slack receiver posts.

Webhook: one `Alert` per entry in `alerts`, status per alert, Alertmanager's own fingerprint,
`0001-01-01T00:00:00Z` endsAt meaning "no end", `groupKey` and `truncatedAlerts` kept.

Slack: the receiver posts an attachment whose title is `[FIRING:N] <groupLabels…>` (the default
`slack.default.title`); the default text is empty, while most teams use the common template that
prints, per alert, `*Alert:* summary - \\`severity\\``, `*Description:*` and a `*Details:*` list of
`• *label:* \\`value\\`` lines. Both are understood.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    as_dict,
    as_list,
    clean,
    field_after,
    kv_lines,
    labels,
    make_alert,
    severity,
    severity_in_text,
    timestamp,
    unslack,
    urls_in,
)
from bot.models import Alert

TITLE = re.compile(r"^\s*\[(FIRING|RESOLVED)(?::(\d+))?\]\s*(.*)$", re.IGNORECASE | re.DOTALL)


def parse_webhook(body: dict[str, Any]) -> list[Alert]:
    group_key = clean(body.get("groupKey"), 1000) or None
    truncated = body.get("truncatedAlerts")
    truncated = truncated if isinstance(truncated, int) and not isinstance(truncated, bool) else 0
    common = labels(body.get("commonLabels"))
    external = clean(body.get("externalURL"), 2000)
    alerts: list[Alert] = []
    for raw in as_list(body.get("alerts"))[:1000]:
        raw = as_dict(raw)
        lbls = {**common, **labels(raw.get("labels"))}
        ann = labels(raw.get("annotations"))
        status = "resolved" if clean(raw.get("status"), 20).lower() == "resolved" else "firing"
        alerts.append(
            make_alert(
                source="alertmanager",
                status=status,
                name=lbls.get("alertname", "") or "AlertmanagerAlert",
                severity_=severity(lbls.get("severity") or lbls.get("priority")),
                lbls=lbls,
                summary=ann.get("summary") or ann.get("message") or ann.get("title", ""),
                description=ann.get("description", ""),
                fingerprint=clean(raw.get("fingerprint"), 128) or None,
                starts_at=timestamp(raw.get("startsAt")),
                ends_at=timestamp(raw.get("endsAt")),
                runbook=ann.get("runbook_url") or ann.get("runbook"),
                dashboard=ann.get("dashboard") or ann.get("dashboard_url") or ann.get("grafana"),
                source_url=clean(raw.get("generatorURL"), 2000) or external,
                group_key=group_key,
                truncated=truncated,
            )
        )
    return alerts


def _looks_like_alertmanager(message: dict[str, Any], title: str) -> bool:
    return bool(TITLE.match(title))


def _chunks(text: str) -> list[str]:
    """Split the common template's text into one chunk per alert (`*Alert:*` starts each)."""
    pieces = re.split(r"(?=^\s*\*?Alert:\*?)", text, flags=re.MULTILINE)
    return [p for p in pieces if p.strip() and re.match(r"^\s*\*?Alert:", p)] or [text]


def parse(message: dict[str, Any]) -> list[Alert] | None:
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        title = clean(att.get("title"), 1000)
        match = TITLE.match(title)
        if not match:
            continue
        if "grafana" in clean(att.get("footer"), 200).lower():
            return None  # Grafana uses the same title shape; its parser handles it
        status = "resolved" if match.group(1).upper() == "RESOLVED" else "firing"
        rest = match.group(3).strip()
        text = unslack(clean(att.get("text"), 100_000))
        source_url = clean(att.get("title_link"), 2000) or None
        alerts = []
        for chunk in _chunks(text):
            lbls = kv_lines(chunk)
            summary_line = field_after(chunk, "Alert")
            sev_match = re.search(r"`([^`]+)`\s*$", summary_line)
            sev = severity(lbls.get("severity") or (sev_match.group(1) if sev_match else ""))
            if sev == "unknown":
                sev = severity_in_text(rest)
            summary = re.sub(r"\s*-\s*`[^`]*`\s*$", "", summary_line) or rest
            name = lbls.get("alertname") or (rest.split()[0] if rest else "AlertmanagerAlert")
            links = urls_in(chunk)
            runbook = next((u for u in links if "runbook" in u.lower()), None)
            dashboard = next(
                (u for u in links if any(k in u for k in ("grafana", "/d/", "graph"))), None
            )
            alerts.append(
                make_alert(
                    source="alertmanager",
                    status=status,
                    name=name,
                    severity_=sev,
                    lbls=lbls,
                    summary=summary,
                    description=field_after(chunk, "Description"),
                    runbook=runbook,
                    dashboard=dashboard,
                    source_url=source_url,
                    environment=_env_from_title(rest) if not lbls else None,
                )
            )
        return alerts
    return None


def _env_from_title(rest: str) -> str | None:
    for word in ("prod", "production", "staging", "uat", "dev"):
        if re.search(rf"\b{word}\b", rest, re.IGNORECASE):
            return word
    return None
