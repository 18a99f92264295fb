"""What an incident is: the alerts of one group, the thread they live in, and their lifecycle.

Alert storms are the norm in trading infrastructure (one switch flap fires a hundred alerts), so
the unit people work on is the incident, not the alert: one thread, one summary message updated in
place, one analysis (re-run only on a material change), and every alert still counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.models import SEVERITY_RANK, Alert, AlertStatus, IncidentOutcome, Severity

Outcome = IncidentOutcome  # defined with the other shared models: `Context` carries them

IncidentState = Literal["open", "acknowledged", "resolved"]
Change = Literal["opened", "added", "repeat", "status", "resolved_all", "reopened", "counted"]


_INSTANCE_LABELS = ("instance", "host", "hostname", "pod", "node", "container", "device")


def instance_of(alert: Alert) -> str | None:
    """The affected instance as the source names it (host, pod, node …), if it does."""
    for label in _INSTANCE_LABELS:
        value = alert.labels.get(label)
        if value:
            return value[:200]
    return None


def worse(a: Severity, b: Severity) -> Severity:
    """The more severe of two severities."""
    return a if SEVERITY_RANK.get(a, 9) <= SEVERITY_RANK.get(b, 9) else b


class IncidentAlert(BaseModel):
    """One fingerprint inside an incident: its latest state and how often it was seen."""

    fingerprint: str
    name: str
    status: AlertStatus
    severity: Severity
    service: str | None = None
    instance: str | None = None
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    recognised: bool = True
    """False when the generic parser guessed it from an unknown format (the card says so)."""


class Action(BaseModel):
    """A human decision taken on the incident (button or command), kept for the audit story."""

    action: str
    user: str
    at: datetime
    detail: str | None = None


class Incident(BaseModel):
    """An incident as stored in Redis (one JSON document, updated under a per-group lock)."""

    id: str
    group_key: str
    title: str
    channel: str
    thread_ts: str
    summary_ts: str | None = None
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    state: IncidentState = "open"
    severity: Severity = "unknown"
    services: list[str] = Field(default_factory=list)
    alerts: dict[str, IncidentAlert] = Field(default_factory=dict)
    events: int = 0
    """Alert notifications counted into this incident (repeats included)."""
    truncated: int = 0
    """The largest `truncatedAlerts` Alertmanager reported: alerts it did not even send."""
    analyses: int = 0
    analysed_severity: Severity | None = None
    assessed_severity: Severity | None = None
    """The severity the last analysis acted on (the firm's market/tier assessment), shown by
    the card, the analysis and `/wizard status` alike; None until analysed."""
    severity_reason: str | None = None
    analysed_services: list[str] = Field(default_factory=list)
    analysis_fallback: bool | None = None
    analysis_summary: str | None = None
    advised: list[str] = Field(default_factory=list)
    primary_fingerprint: str | None = None
    actions: list[Action] = Field(default_factory=list)
    silences: list[str] = Field(default_factory=list)
    silence_state: Literal["active", "expired"] | None = None
    """Alertmanager's own state of the incident's silences, as last read from its API."""
    silenced_until: datetime | None = None
    silence_matchers: list[dict[str, str]] = Field(default_factory=list)
    fix_note: str | None = None

    @property
    def firing(self) -> list[IncidentAlert]:
        return [a for a in self.alerts.values() if a.status == "firing"]

    @property
    def resolved(self) -> list[IncidentAlert]:
        return [a for a in self.alerts.values() if a.status == "resolved"]

    @property
    def instances(self) -> list[str]:
        return sorted({a.instance for a in self.alerts.values() if a.instance})

    @property
    def last_seen(self) -> datetime:
        return max((a.last_seen for a in self.alerts.values()), default=self.opened_at)

    def material_change(self) -> bool:
        """A fresh analysis is worth its cost only when the incident grew: a service the last
        analysis did not know about, or a worse severity. Repeats and resolutions are not."""
        if not self.firing or self.analysed_severity is None:
            return False
        worse_now = SEVERITY_RANK.get(self.severity, 9) < SEVERITY_RANK.get(
            self.analysed_severity, 9
        )
        return worse_now or bool(set(self.services) - set(self.analysed_services))

    @property
    def duration_s(self) -> float | None:
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.opened_at).total_seconds()


class Attachment(BaseModel):
    """What attaching one job's alerts did to an incident."""

    incident: Incident
    change: Change
    material: bool = False
    """True when the incident changed enough to deserve a fresh analysis."""
    counted: int = 0


def count_alerts(incident: Incident, alerts: list[Alert], now: datetime, change: Change) -> Change:
    """Count the alerts into the incident and say what kind of change that was."""
    status_changed = False
    for alert in alerts:
        known = incident.alerts.get(alert.fingerprint)
        if known is None:
            incident.alerts[alert.fingerprint] = IncidentAlert(
                fingerprint=alert.fingerprint,
                name=alert.name,
                status=alert.status,
                severity=alert.severity,
                service=alert.service,
                instance=instance_of(alert),
                first_seen=alert.starts_at or now,
                last_seen=now,
                count=alert.count,
                recognised=alert.recognised,
            )
            if change != "opened":
                change = "added"
        else:
            status_changed |= known.status != alert.status
            known.status = alert.status
            known.severity = alert.severity
            known.last_seen = now
            known.count += alert.count
            known.recognised = alert.recognised
        if alert.status == "firing":
            incident.severity = worse(incident.severity, alert.severity)
        if alert.service and alert.service not in incident.services:
            incident.services.append(alert.service)
        incident.truncated = max(incident.truncated, alert.truncated)
        incident.events += alert.count  # a `[FIRING:3]` post is three notifications
    if incident.primary_fingerprint is None or incident.primary_fingerprint not in incident.alerts:
        incident.primary_fingerprint = alerts[0].fingerprint
    if change == "repeat" and status_changed:
        change = "status"
    incident.updated_at = now
    if incident.state == "resolved" and incident.firing:
        incident.state = "open"
        incident.resolved_at = None
        change = "reopened"
    elif incident.state != "resolved" and not incident.firing:
        incident.state = "resolved"
        incident.resolved_at = now
        if change != "opened":
            change = "resolved_all"
    return change
