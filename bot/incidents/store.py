"""Incidents in Redis: grouping alerts and counting every one.

Many workers (and replicas) handle alerts of one storm at the same time, so every change to an
incident is a compare-and-set in one Lua script (`bot/incidents/scripts.py`): exactly one job
opens the incident (and so posts its summary and asks for its analysis), every other job's write
fails and it counts its alerts into that incident. A job that is reclaimed after a crash finds its
earlier attachment in the incident's job hash and is not counted twice. Summary updates are
coalesced through a "dirty" set that the flusher drains at a rate Slack tolerates, so a storm
of a thousand alerts costs tens of `chat.update` calls, not a thousand.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

import redis.asyncio as redis
import structlog

from bot.incidents import scripts
from bot.incidents.models import Attachment, Change, Incident, Outcome, count_alerts
from bot.incidents.summaries import SummaryQueue
from bot.models import Alert
from bot.store import keys
from bot.store.locks import LocallyQueuedLock, Queues
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
MAX_TRIES = 200
"""Compare-and-set tries before a job gives up (and is retried by its stage): a try is lost only
when another job changed the same incident between its read and its write."""
_UNNUMBERED_ID = "INC-0"
_UNNUMBERED = f'{{"id":"{_UNNUMBERED_ID}"'
_JOBS_SUFFIX = keys.incident_jobs("").removeprefix(keys.incident(""))


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
        self._queues: Queues = weakref.WeakValueDictionary()
        self.summary_interval_s = summary_interval_s
        self._shared = ParseCache(Incident, 512)
        self.summaries = SummaryQueue(
            client,
            interval_s=summary_interval_s,
            quiet_s=summary_quiet_s,
            per_minute=summary_updates_per_min,
        )
        self._post_candidates = client.register_script(scripts.POST_CANDIDATES)
        self._load_group = client.register_script(scripts.LOAD_GROUP)
        self._commit_script = client.register_script(scripts.COMMIT)

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

        Matching asks this for one alert name among up to 200 open incidents: a byte search
        skips the incidents that cannot hold the name, and unchanged JSON is not validated
        again (`ParseCache`). Callers must not change what they get.
        """
        ids = texts(await self.redis.zrevrange(keys.INCIDENTS_OPEN, 0, limit - 1))
        if not ids:
            return []
        needle = _json_needle(name)
        raws = texts(r for r in await self.redis.mget([keys.incident(i) for i in ids]) if r)
        return [self._shared.parse(r) for r in raws if needle is None or needle in r]

    async def post_candidates(
        self, name: str, fingerprints: list[str], limit: int
    ) -> list[Incident]:
        """What a Slack post of alert `name` may match, filtered in Redis (`POST_CANDIDATES`):
        with 200 open incidents of one name, reading them all (and their alerts' records) into
        Python was most of a post's CPU. Shared read-only copies, as `open_mentioning`."""
        raws = await self._post_candidates(
            keys=[keys.INCIDENTS_OPEN],
            args=[
                keys.incident(""),
                keys.alert(""),
                limit,
                name,
                _json_needle(name) or "",
                *fingerprints,
            ],
        )
        return [self._shared.parse(text(r)) for r in raws]

    async def current(self, group_key: str) -> Incident | None:
        """The incident a group key points at now (its own, or one it was matched into)."""
        incident_id = text_or_none(await self.redis.get(keys.incident_group(_digest(group_key))))
        return await self.get(incident_id) if incident_id else None

    def match_lock(self, name: str) -> LocallyQueuedLock:
        """Held while deciding whether an alert's two receivers' copies are one incident and
        attaching it: webhook and post of one notification arrive together, on two workers."""
        return self._lock("match:" + name.lower())

    async def alias(self, group_key: str, incident_id: str) -> None:
        """Make `group_key` count into `incident_id` (the same alert by another receiver)."""
        await self.redis.set(keys.incident_group(_digest(group_key)), incident_id, ex=GROUP_TTL_S)

    # --- writing ----------------------------------------------------------------------------
    def _lock(self, group_key: str) -> LocallyQueuedLock:
        # redis-py polls a held lock every `sleep` seconds (0.1 by default): in a storm, where
        # the alerts of one group arrive together, that default alone capped a group at ~10
        # alerts/s. The critical section is a few round trips, so poll every 5 ms — one task
        # per process at a time: the others queue locally (bot/store/locks.py).
        remote = self.redis.lock(
            keys.incident_lock(_digest(group_key)),
            timeout=LOCK_TIMEOUT_S,
            sleep=0.005,
            blocking_timeout=LOCK_TIMEOUT_S * 2,
        )
        return LocallyQueuedLock(remote, self._queues)

    async def _commit(
        self, incident: Incident, read: str, *, job_id: str = "", change: str = "", pointer: str
    ) -> str | None:
        """Write `incident` (and the job's change) in one `COMMIT` script if its stored JSON is
        still `read` ('' = open it: the script numbers it); its id, or None when another job
        changed it first (the caller reads again and re-applies)."""
        body = incident.model_dump_json()
        if not read:
            assert body.startswith(_UNNUMBERED), "the incident's id must be its first field"
            body = body[len(_UNNUMBERED) :]
        thread = (
            keys.incident_thread(incident.channel, incident.thread_ts) if incident.thread_ts else ""
        )
        written = await self._commit_script(
            keys=[
                keys.incident_group(_digest(incident.group_key)),
                keys.INCIDENTS_OPEN,
                keys.INCIDENT_SEQ,
            ],
            args=[
                keys.incident(""),
                _JOBS_SUFFIX,
                thread,
                pointer,
                read,
                body,
                job_id,
                change,
                "1" if incident.state == "resolved" else "0",
                incident.opened_at.timestamp(),
                INCIDENT_TTL_S,
                GROUP_TTL_S,
                JOBS_TTL_S,
                "1" if job_id else "0",
            ],
        )
        return text_or_none(written) if written else None

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

        `channel`/`thread_ts` become the incident's thread only when this call opens it. One
        `LOAD_GROUP` and one `COMMIT` script per try (compare-and-set, no lock): two jobs of a
        new group race, one opens the incident, the other's commit fails and it counts into it.
        """
        if not alerts:
            raise ValueError("attach needs at least one alert")
        now = now or datetime.now(UTC)
        # `group_key`: the incident this group was matched into (the other receiver's copy of
        # the same alert): its key, so the change is checked against that incident's pointer
        group_key = group_key or self.group_key(alerts[0])
        pointer = keys.incident_group(_digest(group_key))
        for _ in range(MAX_TRIES):
            current_id, raw, earlier = texts(
                await self._load_group(
                    keys=[pointer], args=[keys.incident(""), _JOBS_SUFFIX, job_id]
                )
            )
            incident = Incident.model_validate_json(raw) if raw else None
            if incident is not None and earlier:  # a reclaimed job: already counted, replay
                return Attachment(incident=incident, change=cast(Change, earlier), counted=0)
            if incident is not None and incident.state == "resolved":
                resolved_at = incident.resolved_at or incident.updated_at
                if now - resolved_at > self.reopen_window:
                    incident, raw = None, ""  # long over: a new incident, not a flap
            change: Change
            if incident is None:
                incident = Incident(
                    id=_UNNUMBERED_ID,
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
            change = count_alerts(incident, alerts, now, change)
            written = await self._commit(
                incident, raw, job_id=job_id, change=change, pointer=current_id
            )
            if written is not None:
                incident.id = written
                break
        else:
            raise RuntimeError(f"attach lost {MAX_TRIES} races for one group in a row")
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
        """Apply `change` to the stored incident (compare-and-set: one GET and one `COMMIT`
        per try, re-applied to a fresh read when another job changed it); None if it is gone."""
        for _ in range(MAX_TRIES):
            raw = text_or_none(await self.redis.get(keys.incident(incident_id)))
            if raw is None:
                return None
            incident = Incident.model_validate_json(raw)
            change(incident)
            incident.updated_at = datetime.now(UTC)
            if await self._commit(incident, raw, pointer=incident.id) is not None:
                return incident
        raise RuntimeError(f"update of {incident_id} lost {MAX_TRIES} races in a row")

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
