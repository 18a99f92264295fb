"""The incident summary card: the one message per incident that is updated in place.

It answers what an on-call engineer asks first — how many alerts, which are still firing, where,
since when, is anyone on it, is the market open, is there a freeze — and carries the buttons
(Acknowledge, Resolve, Silence, Re-run analysis, Show runbook). Alert names and labels are
untrusted text: everything is escaped, and Slack's limits are enforced by `fit_blocks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.incidents.models import Incident, IncidentAlert, Outcome
from bot.models import SEVERITY_RANK
from bot.render.format import SEVERITY_ICON, severity_label
from bot.render.format import since as _since
from bot.render.format import thread_url
from bot.render.limits import Blocks, context, fit_blocks, header
from bot.render.limits import notification as _fallback
from bot.render.limits import section
from bot.render.mrkdwn import cut as _cut
from bot.render.mrkdwn import escape_mrkdwn, link

ACTION_ACK = "wizard_ack"
ACTION_RESOLVE = "wizard_resolve"
ACTION_SILENCE = "wizard_silence"
ACTION_RERUN = "wizard_rerun"
ACTION_RUNBOOK = "wizard_runbook"
ACTION_SILENCE_CONFIRM = "wizard_silence_confirm"
"""The clicker confirmed a name-only silence (shown with its exact matcher)."""
ACTION_UNSILENCE = "wizard_unsilence"
ACTIONS = (
    ACTION_ACK,
    ACTION_RESOLVE,
    ACTION_SILENCE,
    ACTION_RERUN,
    ACTION_RUNBOOK,
    ACTION_SILENCE_CONFIRM,
    ACTION_UNSILENCE,
)
MAX_LISTED = 8

_STATE_ICON = {"open": "🔥", "acknowledged": "👀", "resolved": "✅"}


def lasted(seconds: float | None) -> str:
    """`1h 02m` / `4m 05s`: how long an incident lasted, as people say it."""
    if seconds is None or seconds < 0:
        return "unknown"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _alert_line(alert: IncidentAlert, now: datetime) -> str:
    icon = "🔥" if alert.status == "firing" else "✅"
    where = " · ".join(p for p in (alert.service, alert.instance) if p)
    repeat = f" ×{alert.count}" if alert.count > 1 else ""
    text = f"{icon} {alert.name}{repeat} ({alert.severity}{' · ' + where if where else ''})"
    return escape_mrkdwn(_cut(text, 300, markup=False)) + f" — last {_since(alert.last_seen, now)}"


def _button(action_id: str, label: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
        **extra,
    }


def _confirm(title: str, text: str, go: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "mrkdwn", "text": text},
        "confirm": {"type": "plain_text", "text": go},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def buttons(incident: Incident, *, silence_enabled: bool) -> dict[str, Any]:
    """The actions block; the value is the incident id, the handler re-reads the state."""
    value = incident.id
    elements = []
    if incident.state == "open":
        elements.append(_button(ACTION_ACK, "👀 Acknowledge", value))
    if incident.state != "resolved":
        elements.append(
            _button(
                ACTION_RESOLVE,
                "✅ Resolve",
                value,
                style="primary",
                confirm=_confirm(
                    "Resolve incident?",
                    f"Mark {incident.id} resolved for everyone. Firing alerts stay firing in "
                    "their source.",
                    "Resolve",
                ),
            )
        )
        if silence_enabled and incident.silence_state == "active":
            elements.append(
                _button(
                    ACTION_UNSILENCE,
                    "🔔 Expire silence",
                    value,
                    confirm=_confirm(
                        "Expire the silence?",
                        f"Ends {incident.id}'s Alertmanager silence now; its alerts notify again.",
                        "Expire",
                    ),
                )
            )
        elif silence_enabled:
            elements.append(
                _button(
                    ACTION_SILENCE,
                    "🔕 Silence 2h",
                    value,
                    style="danger",
                    confirm=_confirm(
                        "Silence in Alertmanager?",
                        "Creates a 2 h Alertmanager silence for this incident's alerts. "
                        "It is recorded in the audit trail with your name.",
                        "Silence",
                    ),
                )
            )
    elements.append(_button(ACTION_RERUN, "🔁 Re-run analysis", value))
    elements.append(_button(ACTION_RUNBOOK, "📖 Show runbook", value))
    return {"type": "actions", "block_id": f"incident:{incident.id}", "elements": elements}


UNRECOGNISED_NOTE = (
    "⚠️ format not recognised: no parser knows this tool's message, so the alert was read from "
    "its text; status and severity are a best guess"
)


def render_summary(
    incident: Incident,
    *,
    now: datetime | None = None,
    silence_enabled: bool = False,
    facts: Sequence[str] = (),
    memory: Outcome | None = None,
    owner_mention: str | None = None,
    severity: str | None = None,
    severity_reason: str | None = None,
) -> tuple[Blocks, str]:
    """The summary card. `facts` are short trusted lines the caller adds (market session,
    freeze, owner and impact from the catalog); `memory` the last similar incident's outcome.
    `severity` is the assessed severity (the one the analysis and status use too) when it
    differs from the alerts', with the reason it was raised."""
    now = now or datetime.now(UTC)
    firing, resolved = incident.firing, incident.resolved
    state = incident.state
    icon = _STATE_ICON[state]
    title = f"{icon} {incident.id} · {incident.title}"
    counts = (
        f"*{len(firing)} firing* · {len(resolved)} resolved · "
        f"{incident.events} notification{'s' if incident.events != 1 else ''}"
    )
    if incident.truncated:
        counts += f" · +{incident.truncated} more not sent by Alertmanager (truncatedAlerts)"
    timing = (
        f"first seen {_since(incident.opened_at, now)} ago · last {_since(incident.last_seen, now)}"
        " ago"
    )
    if state == "resolved":
        timing = f"*resolved* after {lasted(incident.duration_s)} · opened " + escape_mrkdwn(
            incident.opened_at.strftime("%Y-%m-%d %H:%M UTC")
        )
    sev = escape_mrkdwn(
        severity_label(severity or incident.severity, incident.severity, severity_reason)
        if severity
        else severity_label(incident.severity)
    )
    lines = [f"{sev} · {counts}", timing]
    if incident.services:
        lines.append("services: " + escape_mrkdwn(", ".join(incident.services[:10])))
    instances = incident.instances
    if instances:
        more = f" (+{len(instances) - MAX_LISTED})" if len(instances) > MAX_LISTED else ""
        lines.append("instances: " + escape_mrkdwn(", ".join(instances[:MAX_LISTED])) + more)
    who = [
        f"{a.action} by <@{escape_mrkdwn(a.user)}> {_since(a.at, now)} ago"
        for a in incident.actions[-3:]
        if a.action in ("acknowledged", "resolved", "silenced")
    ]
    blocks: Blocks = [header(title), section("\n".join(lines))]
    ordered = sorted(
        incident.alerts.values(),
        key=lambda a: (a.status != "firing", SEVERITY_RANK.get(a.severity, 9), a.name),
    )
    listed = [_alert_line(a, now) for a in ordered[:MAX_LISTED]]
    if len(ordered) > MAX_LISTED:
        listed.append(f"…and {len(ordered) - MAX_LISTED} more")
    blocks.append(section("\n".join(listed)))
    if owner_mention and state != "resolved":
        blocks.append(context(f"owner: {owner_mention}"))
    if incident.silence_state == "active" and incident.silenced_until:
        until = escape_mrkdwn(incident.silenced_until.strftime("%H:%M UTC"))
        blocks.append(context(f"🔕 silenced in Alertmanager until {until}"))
    elif incident.silence_state == "expired":
        blocks.append(context("🔔 silence expired in Alertmanager: its alerts notify again"))
    if any(not a.recognised for a in incident.alerts.values()):
        blocks.append(context(UNRECOGNISED_NOTE))
    if facts:
        blocks.append(context(*[escape_mrkdwn(f) for f in facts]))
    if memory is not None:
        blocks.append(context(memory_line(memory)))
    analysis = (
        "🧙 analysing…"
        if incident.analyses == 0 and state != "resolved"
        else (
            f"🧙 analysis {incident.analyses}× in thread"
            + (" (runbook fallback)" if incident.analysis_fallback else "")
        )
    )
    blocks.append(context(analysis, *who))
    blocks.append(buttons(incident, silence_enabled=silence_enabled))
    text = _fallback(
        escape_mrkdwn(f"{icon} {incident.id} {incident.title}: {len(firing)} firing, "),
        f"{len(resolved)} resolved",
    )
    return fit_blocks(blocks, keep_last=1), text


def render_silence_confirmation(incident_id: str, matchers: Sequence[str]) -> tuple[Blocks, str]:
    """Ask before a silence that only the alert name identifies: it would also hide the same
    alert in every other environment, so the clicker sees exactly what would match."""
    shown = "\n".join(f"• `{escape_mrkdwn(m)}`" for m in matchers[:10])
    text = (
        f"Only the alert name is known for {escape_mrkdwn(incident_id)} (the post showed no label "
        f"names), so the silence would match:\n{shown}\nThat hides this alert in *every* "
        "environment and instance for 2 h."
    )
    blocks: Blocks = [
        section(text),
        {
            "type": "actions",
            "block_id": f"silence-confirm:{incident_id}",
            "elements": [
                _button(
                    ACTION_SILENCE_CONFIRM,
                    "🔕 Silence by name only",
                    incident_id,
                    style="danger",
                )
            ],
        },
    ]
    return blocks, _fallback(f"Confirm a name-only silence of {incident_id}: ", shown)


def memory_line(outcome: Outcome) -> str:
    """ "Last time (2026-11-02, INC-7, 14m) this was fixed by …": from the outcome record."""
    when = outcome.resolved_at.strftime("%Y-%m-%d")
    how = outcome.fix_note or (
        ("the wizard advised: " + "; ".join(outcome.advised[:2])) if outcome.advised else None
    )
    head = f"🧠 last time ({when}, {outcome.incident_id}, lasted {lasted(outcome.duration_s)})"
    if outcome.fix_note:
        body = f"this was fixed by: {how}"
    elif how:
        body = f"no fix was recorded; {how}"
    else:
        body = f"resolved by {outcome.resolved_by}; no fix was recorded"
    return escape_mrkdwn(_cut(f"{head} {body}", 600, markup=False))


def render_incident_resolved(incident: Incident, by: str | None) -> tuple[Blocks, str]:
    """The one thread reply when an incident ends, asking for the fix so it can be remembered."""
    who = f" by <@{escape_mrkdwn(by)}>" if by else " (all alerts resolved)"
    text = (
        f"✅ *{incident.id}* resolved{who} after {lasted(incident.duration_s)}. "
        "What fixed it? Reply in this thread: I will remember it for next time and it goes in "
        "the audit trail."
    )
    return fit_blocks([section(text)]), _fallback(
        escape_mrkdwn(f"✅ {incident.id} resolved after {lasted(incident.duration_s)}")
    )


def render_action_note(text: str) -> tuple[Blocks, str]:
    """A short thread note recording a human decision (ack, silence …)."""
    return fit_blocks([context(text)]), _fallback(text)


def incidents_section(incidents: Sequence[Incident], *, now: datetime | None = None) -> Blocks:
    """Open incidents for `/wizard status`, worst first: id, title, firing, state, age, thread."""
    if not incidents:
        return []
    now = now or datetime.now(UTC)

    def shown(incident: Incident) -> str:
        """The severity the analysis acted on (assessed), as on the card, else the alerts'."""
        return incident.assessed_severity or incident.severity

    ordered = sorted(incidents, key=lambda i: (SEVERITY_RANK.get(shown(i), 9), i.opened_at))
    lines = []
    for incident in ordered[: MAX_LISTED * 2]:
        where = link(thread_url(incident.channel, incident.thread_ts), "thread")
        lines.append(
            f"{_STATE_ICON[incident.state]} {SEVERITY_ICON.get(shown(incident), '⚪')} "
            f"{shown(incident)} *{escape_mrkdwn(incident.id)}* "
            + escape_mrkdwn(_cut(incident.title, 120, markup=False))
            + f" — {len(incident.firing)} firing · {incident.state} · "
            f"open {_since(incident.opened_at, now)} · {where}"
        )
    count = f"{len(incidents)} open incident{'' if len(incidents) == 1 else 's'}"
    return [section(f"*{count}*\n" + "\n".join(lines))]
