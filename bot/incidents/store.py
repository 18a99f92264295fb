"""Incidents in Redis: grouping alerts and counting every one.

Many workers (and replicas) handle alerts of one storm at the same time, so every change to an
incident happens under a per-group redis-py `Lock`: exactly one job opens the incident (and so
posts its summary and asks for its analysis), every other job only counts its alerts. A job that is
reclaimed after a crash finds its earlier attachment in the incident's job hash and is not counted
twice. Summary updates are coalesced through a "dirty" set that the flusher drains at a rate Slack
tolerates, so a storm of a thousand alerts costs tens of `chat.update` calls, not a thousand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

import redis.asyncio as redis
import structlog

from bot.incidents.models import (
    Attachment,
    Change,
    Incident,
    IncidentAlert,
    Outcome,
    instance_of,
    worse,
)
from bot.incidents.summaries import SummaryQueue
from bot.models import Alert
from bot.store import keys
from bot.store.typed import ParseCache, text, text_or_none, texts
from bot.text import subject

log = structlog.get_logger(__name__)

GroupBy = Literal["service", "alertname", "fingerprint"]

INCIDENT_TTL_S = 90 * 24 * 3600
GROUP_TTL_S = 30 * 24 * 3600
JOBS_TTL_S = 7 * 24 * 3600
OUTCOME_TTL_S = 365 * 24 * 3600
MAX_OUTCOMES = 20
LOCK_TIMEOUT_S = 10.0


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def group_key_of(alert: Alert, group_by: GroupBy = "service") -> str:
    """Alertmanager's own group key when the alert has one (it already grouped them); else the
    configured grouping: the service (default), the alert name, or nothing (per fingerprint)."""
    if alert.group_key:
        return f"am:{alert.group_key}"
    env = alert.environment or ""
    if group_by == "service" and alert.service:
        return f"svc:{alert.service.lower()}|{env}"
    if group_by in ("service", "alertname"):
        return f"name:{alert.name.lower()}|{env}"
    return f"fp:{alert.fingerprint}"


class IncidentStore:
    """Reads and changes incidents; every change goes through `_locked`."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        group_by: GroupBy = "service",
        reopen_window: timedelta = timedelta(minutes=15),
        summary_interval_s: float = 5.0,
        summary_quiet_s: float = 0.0,
        summary_updates_per_min: int = 40,
    ) -> None:
        self.redis = client
        self.group_by = group_by
        self.reopen_window = reopen_window
        self.summary_interval_s = summary_interval_s
        self._shared = ParseCache(Incident, 512)
        self.summaries = SummaryQueue(
            client,
            interval_s=summary_interval_s,
            quiet_s=summary_quiet_s,
            per_minute=summary_updates_per_min,
        )

    def group_key(self, alert: Alert) -> str:
        return group_key_of(alert, self.group_by)

    # --- reading ----------------------------------------------------------------------------
    async def get(self, incident_id: str) -> Incident | None:
        raw = await self.redis.get(keys.incident(incident_id))
        return Incident.model_validate_json(raw) if raw else None

    async def by_thread(self, channel: str, thread_ts: str) -> Incident | None:
        incident_id = text_or_none(await self.redis.get(keys.incident_thread(channel, thread_ts)))
        return await self.get(incident_id) if incident_id else None

    async def open_incidents(self, limit: int = 50) -> list[Incident]:
        ids = texts(await self.redis.zrevrange(keys.INCIDENTS_OPEN, 0, limit - 1))
        if not ids:
            return []
        raws = await self.redis.mget([keys.incident(i) for i in ids])
        return [Incident.model_validate_json(r) for r in raws if r]

    async def open_mentioning(self, name: str, limit: int) -> list[Incident]:
        """The newest open incidents whose stored JSON contains `name`, shared read-only copies.

        Matching asks this for one alert name among up to 200 open incidents on every Slack
        post: a byte search skips the incidents that cannot hold the name, and unchanged JSON is
        not validated again (`ParseCache`). Callers must not change what they get.
        """
        ids = texts(await self.redis.zrevrange(keys.INCIDENTS_OPEN, 0, limit - 1))
        if not ids:
            return []
        needle = _json_needle(name)
        raws = texts(r for r in await self.redis.mget([keys.incident(i) for i in ids]) if r)
        return [self._shared.parse(r) for r in raws if needle is None or needle in r]

    async def current(self, group_key: str) -> Incident | None:
        """The incident a group key points at now (its own, or one it was matched into)."""
        incident_id = text_or_none(await self.redis.get(keys.incident_group(_digest(group_key))))
        return await self.get(incident_id) if incident_id else None

    def match_lock(self, name: str) -> redis.lock.Lock:
        """Held while deciding whether an alert's two receivers' copies are one incident and
        attaching it: webhook and post of one notification arrive together, on two workers."""
        return self._lock("match:" + name.lower())

    async def alias(self, group_key: str, incident_id: str) -> None:
        """Make `group_key` count into `incident_id` (the same alert by another receiver)."""
        await self.redis.set(keys.incident_group(_digest(group_key)), incident_id, ex=GROUP_TTL_S)

    # --- writing ----------------------------------------------------------------------------
    async def _save(self, incident: Incident) -> None:
        digest = _digest(incident.group_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.incident(incident.id), incident.model_dump_json(), ex=INCIDENT_TTL_S)
            pipe.set(keys.incident_group(digest), incident.id, ex=GROUP_TTL_S)
            if incident.thread_ts:  # a webhook incident gets its thread once its root is posted
                pipe.set(
                    keys.incident_thread(incident.channel, incident.thread_ts),
                    incident.id,
                    ex=GROUP_TTL_S,
                )
            if incident.state == "resolved":
                pipe.zrem(keys.INCIDENTS_OPEN, incident.id)
            else:
                pipe.zadd(keys.INCIDENTS_OPEN, {incident.id: incident.opened_at.timestamp()})
            await pipe.execute()

    def _lock(self, group_key: str) -> redis.lock.Lock:
        # redis-py polls a held lock every `sleep` seconds (0.1 by default): in a storm, where
        # the alerts of one group arrive together, that default alone capped a group at ~10
        # alerts/s. The critical section is a few round trips, so poll every 5 ms.
        return self.redis.lock(
            keys.incident_lock(_digest(group_key)),
            timeout=LOCK_TIMEOUT_S,
            sleep=0.005,
            blocking_timeout=LOCK_TIMEOUT_S * 2,
        )

    async def attach(
        self,
        alerts: list[Alert],
        *,
        channel: str,
        thread_ts: str,
        job_id: str,
        now: datetime | None = None,
        group_key: str | None = None,
    ) -> Attachment:
        """Count `alerts` (all of one group) into their incident, opening one if none is open.

        `channel`/`thread_ts` become the incident's thread only when this call opens it.
        """
        if not alerts:
            raise ValueError("attach needs at least one alert")
        now = now or datetime.now(UTC)
        # `group_key`: the incident this group was matched into (the other receiver's copy of
        # the same alert): its key, so this runs under the same lock as every other change to it
        group_key = group_key or self.group_key(alerts[0])
        digest = _digest(group_key)
        async with self._lock(group_key):
            current_id = text_or_none(await self.redis.get(keys.incident_group(digest)))
            incident = await self.get(current_id) if current_id else None
            if incident is not None:
                earlier = await self.redis.hget(keys.incident_jobs(incident.id), job_id)
                if earlier:  # a reclaimed job: already counted, replay what it did
                    return Attachment(
                        incident=incident, change=cast(Change, text(earlier)), counted=0
                    )
            if incident is not None and incident.state == "resolved":
                resolved_at = incident.resolved_at or incident.updated_at
                if now - resolved_at > self.reopen_window:
                    incident = None  # long over: a new incident, not a flap
            change: Change
            if incident is None:
                number = await self.redis.incr(keys.INCIDENT_SEQ)
                incident = Incident(
                    id=f"INC-{number}",
                    group_key=group_key,
                    title=_title(alerts),
                    channel=channel,
                    thread_ts=thread_ts,
                    opened_at=now,
                    updated_at=now,
                )
                change = "opened"
            else:
                change = "repeat"
            change = _apply(incident, alerts, now, change)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.incident_jobs(incident.id), job_id, change)
                pipe.expire(keys.incident_jobs(incident.id), JOBS_TTL_S)
                await pipe.execute()
            await self._save(incident)
        log.info(
            "incident_attached",
            incident_id=incident.id,
            change=change,
            alerts=len(alerts),
            events=incident.events,
        )
        return Attachment(
            incident=incident,
            change=change,
            material=change == "reopened" or (change != "opened" and incident.material_change()),
            counted=len(alerts),
        )

    async def update(self, incident_id: str, change: Callable[[Incident], None]) -> Incident | None:
        """Apply `change` to the stored incident under its group lock; None if it is gone."""
        incident = await self.get(incident_id)
        if incident is None:
            return None
        async with self._lock(incident.group_key):
            incident = await self.get(incident_id)
            if incident is None:
                return None
            change(incident)
            incident.updated_at = datetime.now(UTC)
            await self._save(incident)
            return incident

    # --- summary refresh (coalesced, debounced, one budget for all replicas) -----------------
    async def mark_dirty(self, incident_id: str, now: datetime | None = None) -> None:
        """Ask for a summary update (see `SummaryQueue` for when it becomes due)."""
        await self.summaries.mark_dirty(incident_id, now.timestamp() if now else None)

    async def claim_due(self, limit: int, now: datetime | None = None) -> list[str]:
        """Take up to `limit` due summaries the shared budget affords (unique per replica)."""
        return await self.summaries.claim_due(limit, now.timestamp() if now else None)

    async def rendered(
        self, incident_id: str, now: datetime | None = None, digest: str | None = None
    ) -> None:
        when = (now or datetime.now(UTC)).timestamp()
        await self.summaries.rendered(incident_id, when, digest)

    async def pending_summaries(self) -> int:
        return await self.summaries.pending()

    # --- incident memory --------------------------------------------------------------------
    async def record_outcome(self, outcome: Outcome) -> None:
        """Remember how an incident ended, by service and fingerprint (idempotent per id)."""
        key = keys.incident_outcome(outcome.incident_id)
        existed = await self.redis.exists(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, outcome.model_dump_json(), ex=OUTCOME_TTL_S)
            if not existed:
                lists = [keys.outcomes_by_service(s) for s in outcome.services]
                lists += [keys.outcomes_by_fingerprint(f) for f in outcome.fingerprints[:20]]
                for list_key in lists:
                    pipe.lpush(list_key, outcome.incident_id)
                    pipe.ltrim(list_key, 0, MAX_OUTCOMES - 1)
                    pipe.expire(list_key, OUTCOME_TTL_S)
            await pipe.execute()

    async def outcome(self, incident_id: str) -> Outcome | None:
        raw = await self.redis.get(keys.incident_outcome(incident_id))
        return Outcome.model_validate_json(raw) if raw else None

    async def past_outcomes(
        self,
        *,
        services: list[str],
        fingerprints: list[str],
        exclude: str | None = None,
        limit: int = 3,
    ) -> list[Outcome]:
        """Earlier incidents of these services/fingerprints, newest first."""
        ids: list[str] = []
        for list_key in [keys.outcomes_by_fingerprint(f) for f in fingerprints[:10]] + [
            keys.outcomes_by_service(s) for s in services[:5]
        ]:
            for incident_id in texts(await self.redis.lrange(list_key, 0, MAX_OUTCOMES - 1)):
                if incident_id != exclude and incident_id not in ids:
                    ids.append(incident_id)
        if not ids:
            return []
        raws = await self.redis.mget([keys.incident_outcome(i) for i in ids])
        outcomes = [Outcome.model_validate_json(r) for r in raws if r]
        outcomes.sort(key=lambda o: o.resolved_at, reverse=True)
        return outcomes[:limit]


def _json_needle(value: str) -> str | None:
    """`value` as it appears inside pydantic's JSON, or None when escaping could change it
    (then nothing is filtered: a missed match would open a second incident)."""
    plain = value.isascii() and value.isprintable() and not any(c in value for c in '"\\')
    return value if value and plain else None


def _title(alerts: list[Alert]) -> str:
    first = alerts[0]
    return subject(first.name, first.service or first.labels.get("job"))[:150]


def _apply(incident: Incident, alerts: list[Alert], now: datetime, change: Change) -> Change:
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
