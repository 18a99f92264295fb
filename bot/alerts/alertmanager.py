"""Alertmanager: the webhook (v4 JSON) and its Slack receiver's posts.

Webhook: one `Alert` per entry in `alerts`, status per alert, Alertmanager's own fingerprint,
`0001-01-01T00:00:00Z` endsAt meaning "no end", `groupKey` and `truncatedAlerts` kept.

Slack: the receiver posts one attachment titled by the default `slack.default.title`,
`[FIRING:N] <group label values> (<other common label values>)`, linked to Alertmanager's alerts
page. The default text is empty, so such a post is one alert for the whole group, identified by
its group label values. Most teams use the well-known custom text that prints, per alert,
`*Alert:* summary - \\`severity\\``, `*Description:*`, `*Runbook:*` and a `*Details:*` list of
`• *label:* \\`value\\`` lines; that gives one alert per entry, and since it prints the full label
set we recompute Alertmanager's own fingerprint from it. Both shapes were captured from a real
Alertmanager (see tests/fixtures/README.md).
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    ENV_WORDS,
    GROUP_TITLE,
    MAX_DESCRIPTION,
    as_dict,
    as_list,
    clean,
    env_in_text,
    field_after,
    kv_lines,
    labels,
    looks_like_grafana,
    make_alert,
    severity,
    severity_in_text,
    timestamp,
    unslack,
    urls_in,
)
from bot.alerts.fingerprint import alertmanager_fingerprint, fingerprint_for
from bot.models import Alert, AlertStatus

MAX_ALERTS = 1000
_ALERT_START = re.compile(r"(?=^\s*\*?Alert:\*?)", re.MULTILINE)


def parse_webhook(body: dict[str, Any]) -> list[Alert]:
    """The webhook_configs body (version 4): one alert per entry, group facts on each."""
    group_key = clean(body.get("groupKey"), 1000) or None
    truncated = body.get("truncatedAlerts")
    truncated = truncated if isinstance(truncated, int) and not isinstance(truncated, bool) else 0
    common = labels(body.get("commonLabels"))
    common_ann = labels(body.get("commonAnnotations"), MAX_DESCRIPTION)
    external = clean(body.get("externalURL"), 2000)
    group_status = clean(body.get("status"), 20).lower()
    # Grafana's webhook contact point sends the same body plus `orgId` and per-alert
    # `dashboardURL` / `panelURL` / `silenceURL`: the same parse, Grafana's links kept.
    grafana = "orgId" in body or any(
        "dashboardURL" in as_dict(a) or "silenceURL" in as_dict(a)
        for a in as_list(body.get("alerts"))[:5]
    )
    alerts: list[Alert] = []
    for raw in as_list(body.get("alerts"))[:MAX_ALERTS]:
        raw = as_dict(raw)
        lbls = {**common, **labels(raw.get("labels"))}
        ann = {**common_ann, **labels(raw.get("annotations"), MAX_DESCRIPTION)}
        status = clean(raw.get("status"), 20).lower() or group_status
        alerts.append(
            make_alert(
                source="grafana" if grafana else "alertmanager",
                status="resolved" if status == "resolved" else "firing",
                name=lbls.get("alertname", "") or "AlertmanagerAlert",
                severity_=severity(lbls.get("severity") or lbls.get("priority")),
                lbls=lbls,
                summary=ann.get("summary") or ann.get("message") or ann.get("title", ""),
                description=ann.get("description", ""),
                fingerprint=clean(raw.get("fingerprint"), 128) or None,
                starts_at=timestamp(raw.get("startsAt")),
                ends_at=timestamp(raw.get("endsAt")),
                runbook=ann.get("runbook_url") or ann.get("runbook"),
                dashboard=raw.get("dashboardURL")
                or ann.get("dashboard")
                or ann.get("dashboard_url")
                or ann.get("grafana"),
                panel=raw.get("panelURL"),
                silence=raw.get("silenceURL"),
                source_url=clean(raw.get("generatorURL"), 2000) or external,
                group_key=group_key,
                truncated=truncated,
            )
        )
    return alerts


def parse(message: dict[str, Any]) -> list[Alert] | None:
    """Alerts in a Slack post by Alertmanager's Slack receiver; None if it is not one."""
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        match = GROUP_TITLE.match(clean(att.get("title"), 1000))
        if not match:
            continue
        if looks_like_grafana(message, att):
            return None
        return _from_post(
            status="resolved" if match.group(1).upper() == "RESOLVED" else "firing",
            title=match.group(2).strip(),
            text=unslack(clean(att.get("text"), 100_000)),
            link=clean(att.get("title_link"), 2000) or None,
            count=_firing_count(clean(att.get("title"), 100)),
        )
    # Relays and `text:`-only templates put the title on the message's first line.
    text = clean(message.get("text"), 100_000)
    first, _, rest = text.partition("\n")
    match = GROUP_TITLE.match(first)
    if match and not as_list(message.get("attachments")):
        return _from_post(
            status="resolved" if match.group(1).upper() == "RESOLVED" else "firing",
            title=unslack(match.group(2)).strip(),
            text=unslack(rest),
            link=None,
            count=_firing_count(first),
        )
    return None


def _firing_count(title: str) -> int:
    """`[FIRING:3] …` → 3: the default template's one post stands for that many alerts."""
    match = re.match(r"\s*\[FIRING:(\d{1,6})", title, re.IGNORECASE)
    return int(match.group(1)) if match else 1


def _from_post(
    *, status: AlertStatus, title: str, text: str, link: str | None, count: int = 1
) -> list[Alert]:
    chunks = _chunks(text)
    if not chunks:
        return [_group_alert(status=status, title=title, text=text, link=link, count=count)]
    return [_entry_alert(status=status, title=title, chunk=c, link=link) for c in chunks]


def _chunks(text: str) -> list[str]:
    """One chunk per alert of the common custom template (`*Alert:*` starts each entry)."""
    pieces = [p for p in _ALERT_START.split(text) if re.match(r"^\s*\*?Alert:", p)]
    if pieces:
        return pieces[:MAX_ALERTS]
    return [text] if kv_lines(text) else []


def _entry_alert(*, status: AlertStatus, title: str, chunk: str, link: str | None) -> Alert:
    lbls = kv_lines(chunk)
    summary_line = field_after(chunk, "Alert").split("\n")[0]
    sev_match = re.search(r"`([^`]+)`\s*$", summary_line)
    sev = severity(lbls.get("severity") or (sev_match.group(1) if sev_match else ""))
    stated = field_after(chunk, "Status").split("\n")[0].lower()
    if stated in ("firing", "resolved"):
        status = "resolved" if stated == "resolved" else "firing"
    urls = urls_in(chunk)
    runbook = _first_url(field_after(chunk, "Runbook")) or next(
        (u for u in urls if "runbook" in u.lower()), None
    )
    dashboard = _first_url(field_after(chunk, "Dashboard")) or next(
        (u for u in urls if "grafana" in u or "/d/" in u), None
    )
    return make_alert(
        source="alertmanager",
        status=status,
        name=lbls.get("alertname") or (title.split()[0] if title else "AlertmanagerAlert"),
        severity_=sev if sev != "unknown" else severity_in_text(title),
        lbls=lbls,
        summary=re.sub(r"\s*-\s*`[^`]*`\s*$", "", summary_line) or title,
        description=field_after(chunk, "Description").split("\n")[0],
        fingerprint=alertmanager_fingerprint(lbls) if "alertname" in lbls else None,
        runbook=runbook,
        dashboard=dashboard,
        source_url=link,
        environment=None if lbls else env_in_text(title),
    )


def _group_alert(
    *, status: AlertStatus, title: str, text: str, link: str | None, count: int = 1
) -> Alert:
    """The default template: only label *values* are shown, so one alert stands for the group.

    The group label values (before the parenthesis) identify the group whatever its state or
    membership, so they are the fingerprint's identity; the service is the first value that is
    not the alert name, an environment, a severity or an instance address.
    """
    group_part, _, common_part = title.partition(" (")
    tokens = group_part.split() + common_part.rstrip(")").split()
    name = tokens[0] if tokens else "AlertmanagerAlert"
    service = next(
        (
            t
            for t in tokens[1:]
            if t.lower() not in ENV_WORDS
            and severity(t) == "unknown"
            and ":" not in t
            and "=" not in t
            and t != name
        ),
        None,
    )
    return make_alert(
        source="alertmanager",
        status=status,
        name=name,
        severity_=severity_in_text(title),
        summary=title,
        description=text,
        fingerprint=fingerprint_for("alertmanager", name, {"group": group_part.strip()}),
        source_url=link,
        service=service,
        environment=env_in_text(title),
        count=count,
    )


def _first_url(text: str) -> str | None:
    found = urls_in(text)
    return found[0] if found else None
