"""What happens to alerts once parsed, in the fast stage: incidents, their card, resolution.

One incident = one thread. The job that opens an incident posts its summary card (the first
threaded message people see, within milliseconds) and queues one analysis for the analysis stage
(`bot/pipeline/analysis.py`); it never waits for the model. Every later alert of the group only
counts into the incident and marks the card for a coalesced update. A fresh analysis costs a
model call, so it is queued only on a material change (a new service, a worse severity, a
reopened incident) or a human's "Re-run" (`bot/pipeline/actions.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from bot.context.enrichment import Enricher, Enrichment
from bot.context.store import ContextStore, ThreadInfo
from bot.incidents.matching import from_post
from bot.incidents.models import Incident, Outcome
from bot.incidents.silences import SilenceFlow
from bot.incidents.store import IncidentStore
from bot.incidents.summaries import rendering_digest
from bot.models import SEVERITY_RANK, Alert
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import AlertJob, JobBase, TriageAnalysis, analysis_id
from bot.pipeline.matching import ReceiverMatching
from bot.pipeline.recording import Recorder
from bot.render.incident import render_incident_resolved, render_summary
from bot.slack.replies import Replier

log = structlog.get_logger(__name__)


async def no_enrichment(alert: Alert) -> Enrichment:
    return Enrichment()


def most_severe(alerts: list[Alert]) -> Alert:
    """The alert a reply is about: the most severe firing one, else the first."""
    firing = [a for a in alerts if a.status == "firing"] or alerts
    return sorted(firing, key=lambda a: SEVERITY_RANK.get(a.severity, 9))[0]


async def primary_alert(
    store: ContextStore, incident: Incident, group: list[Alert]
) -> Alert | None:
    """The full alert the incident is about: the most severe firing one we know. `group` is the
    job's own alerts (the store may not have them yet when the incident opens)."""
    candidates = list(group)
    ranked = sorted(
        incident.alerts.values(),
        key=lambda a: (a.status != "firing", SEVERITY_RANK.get(a.severity, 9)),
    )
    own = {a.fingerprint for a in group}
    missing = [e.fingerprint for e in ranked[:5] if e.fingerprint not in own]
    records = await store.alerts_by_fingerprint(missing) if missing else {}
    candidates += [records[fp].alert for fp in missing if fp in records]
    return most_severe(candidates) if candidates else None


class IncidentFlow:
    """Alerts → incidents → one summary card, analyses queued, one resolution note."""

    def __init__(
        self,
        *,
        store: ContextStore,
        incidents: IncidentStore,
        intake: Intake,
        replier: Replier,
        recorder: Recorder,
        enricher: Enricher = no_enrichment,
        silences: SilenceFlow | None = None,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.intake = intake
        self.replier = replier
        self.recorder = recorder
        self.enricher = enricher
        self.silences = silences
        self.matching = ReceiverMatching(incidents, store, replier)

    # --- alerts -----------------------------------------------------------------------------
    async def alerts(
        self, job: JobBase, alerts: list[Alert], *, channel: str, thread_ts: str | None
    ) -> None:
        """Count `alerts` into their incidents. `thread_ts` is the alert post's own ts, or None
        for webhook alerts (an opened incident then gets a root message of its own)."""
        groups: dict[str, list[Alert]] = {}
        for alert in alerts:
            groups.setdefault(self.incidents.group_key(alert), []).append(alert)
        for group in groups.values():
            async with self.matching.lock(group):
                match = await self.matching.match(group)
                if match.sure is not None and from_post(group[0]):
                    known = {a.fingerprint for a in group} & set(match.sure.alerts)
                    if match.linked_only or not known:
                        # the webhook already counts this alert: link the post, not twice
                        await self.matching.link(
                            job, match.sure, group, channel, thread_ts, sure=True
                        )
                        continue
                if match.sure is not None:
                    await self.incidents.alias(self.incidents.group_key(group[0]), match.sure.id)
                attached = await self.incidents.attach(
                    group,
                    channel=channel,
                    thread_ts=thread_ts or "",
                    job_id=job.id,
                    group_key=match.sure.group_key if match.sure else None,
                )
                # recorded before the lock is released: the other receiver's copy is matched
                # against these records (a webhook incident's thread is filled in by repeats)
                await self.store.record_alerts(
                    group,
                    channel=attached.incident.channel,
                    thread_ts=attached.incident.thread_ts or None,
                )
            incident = attached.incident
            unsure = [i for i in match.unsure if i.id != incident.id]
            joined = match.sure is not None  # the other receiver's copy: already analysed
            if joined and incident.analyses:
                incident = await self.matching.covered(incident)
            structlog.contextvars.bind_contextvars(
                incident_id=incident.id, thread=f"{incident.channel}:{incident.thread_ts}"
            )
            if attached.change == "opened":
                # Only the opener posts the card (a reclaimed opener replays "opened" and finds
                # its message). Another job of the group arriving while the card is being posted
                # must not post one of its own in its own thread: that made 27 threads out of
                # 20 incidents in a 16-worker storm.
                incident = await self._post_summary(job, incident, thread_ts, group)
                for alert in group:
                    await self.store.place_alert(
                        alert.fingerprint, incident.channel, incident.thread_ts
                    )
            if thread_ts and thread_ts != incident.thread_ts:
                # Someone may ask in this alert's own thread: answer with the incident's context.
                await self.store.set_thread(
                    ThreadInfo(
                        channel=channel,
                        thread_ts=thread_ts,
                        kind="alert",
                        fingerprint=group[0].fingerprint,
                        alert=group[0],
                        job_id=job.id,
                        incident_id=incident.id,
                    )
                )
            edited = isinstance(job, AlertJob) and job.edited
            if unsure and attached.change == "opened":
                # maybe the other receiver's copy of an alert we already analyse: link, once
                for other in unsure[:3]:
                    await self.matching.link(
                        job, other, group, incident.channel, incident.thread_ts
                    )
                    await self.matching.link(job, incident, group, other.channel, other.thread_ts)
            elif attached.change == "opened" and incident.firing:
                await self.request_analysis(job, incident, group, why=None)
            elif attached.material and not edited and not joined:
                await self.request_analysis(
                    job, incident, group, why=_why(attached.change, incident)
                )
            if attached.change == "resolved_all":
                await self.resolved(job, incident, by=None)
            await self.incidents.mark_dirty(incident.id)

    async def request_analysis(
        self,
        job: JobBase,
        incident: Incident,
        group: list[Alert],
        *,
        why: str | None,
        requested_by: str | None = None,
    ) -> bool:
        """Queue the incident's analysis for the analysis stage (once per job and incident)."""
        return await self.intake.submit_analysis(
            TriageAnalysis(
                id=analysis_id(job.id, incident.id),
                incident_id=incident.id,
                source_job=job.id,
                alerts=group,
                why=why,
                requested_by=requested_by,
                event_id=job.event_id,
                received_at=job.received_at,
            )
        )

    async def _post_summary(
        self, job: JobBase, incident: Incident, thread_ts: str | None, group: list[Alert]
    ) -> Incident:
        blocks, text = await self.render(incident, group)
        # A posted alert's thread gets the card as a reply; a webhook incident has no message
        # yet, so the card becomes the thread's root.
        slot = f"summary:{incident.id}" if thread_ts else f"root:{incident.id}"
        ts = await self.replier.ensure(
            job.id, slot, channel=incident.channel, thread_ts=thread_ts, blocks=blocks, text=text
        )
        root = thread_ts or ts

        def placed(i: Incident) -> None:
            i.summary_ts = ts
            i.thread_ts = i.thread_ts or root

        updated = await self.incidents.update(incident.id, placed)
        await self.incidents.rendered(incident.id, digest=rendering_digest(blocks, text))
        return updated or incident

    async def render(
        self, incident: Incident, group: list[Alert] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """The summary card with the firm's facts and the last similar incident."""
        if self.silences is not None and incident.silences:
            incident = await self.silences.sync(incident)  # Alertmanager's state, not ours
        primary = await primary_alert(self.store, incident, group or [])
        enrichment = await self.enricher(primary) if primary else Enrichment()
        memory = await self.incidents.past_outcomes(
            services=incident.services,
            fingerprints=list(incident.alerts),
            exclude=incident.id,
            limit=1,
        )
        return render_summary(
            incident,
            silence_enabled=self.silences is not None,
            facts=enrichment.facts,
            memory=memory[0] if memory else None,
            owner_mention=enrichment.owner_mention,
            severity=enrichment.severity if enrichment.source_severity else None,
            severity_reason=enrichment.severity_reason,
        )

    async def refresh(self, incident_id: str) -> bool:
        """Update one summary in place (the flusher calls this for dirty incidents)."""
        incident = await self.incidents.get(incident_id)
        if incident is None or not incident.summary_ts:
            return False
        blocks, text = await self.render(incident)
        digest = rendering_digest(blocks, text)
        if await self.incidents.summaries.shows(incident_id, digest):
            return False  # the card already shows this: no call, the token goes back
        await self.replier.update(incident.channel, incident.summary_ts, blocks, text)
        await self.incidents.rendered(incident_id, digest=digest)
        return True

    # --- resolution and memory ----------------------------------------------------------------
    async def resolved(self, job: JobBase, incident: Incident, *, by: str | None) -> None:
        """The incident ended: say so once in the thread, audit it, remember it."""
        blocks, text = render_incident_resolved(incident, by)
        await self.replier.ensure(
            job.id,
            f"resolved:{incident.id}",
            channel=incident.channel,
            thread_ts=incident.thread_ts,
            blocks=blocks,
            text=text,
        )
        await self.recorder.once(
            "incident_resolved",
            job,
            incident_id=incident.id,
            thread=f"{incident.channel}:{incident.thread_ts}",
            resolved_by=by or "alerts resolved",
            duration_s=incident.duration_s,
            alerts=len(incident.alerts),
            notifications=incident.events,
        )
        await self.incidents.record_outcome(outcome_of(incident, by))
        await self.incidents.mark_dirty(incident.id)

    async def fix_note(self, job: JobBase, incident: Incident, text: str, user: str | None) -> bool:
        """A reply in a resolved incident's thread is taken as "what fixed it", once."""
        if incident.state != "resolved" or incident.fix_note or not text.strip():
            return False
        note = text.strip()[:1000]

        def noted(i: Incident) -> None:
            i.fix_note = note

        updated = await self.incidents.update(incident.id, noted)
        if updated is None:
            return False
        await self.incidents.record_outcome(outcome_of(updated, _resolver(updated)))
        await self.recorder.once(
            "fix_recorded",
            job,
            incident_id=incident.id,
            actor=user,
            fix_note=note,
            thread=f"{incident.channel}:{incident.thread_ts}",
        )
        await self.incidents.mark_dirty(incident.id)
        return True


def _why(change: str, incident: Incident) -> str:
    if change == "reopened":
        return "it fired again after resolving"
    return f"it grew: severity {incident.severity}, services {', '.join(incident.services[:5])}"


def _resolver(incident: Incident) -> str | None:
    for action in reversed(incident.actions):
        if action.action == "resolved":
            return action.user
    return None


def outcome_of(incident: Incident, by: str | None) -> Outcome:
    resolved_at = incident.resolved_at or datetime.now(UTC)
    return Outcome(
        incident_id=incident.id,
        title=incident.title,
        services=incident.services,
        fingerprints=list(incident.alerts)[:20],
        opened_at=incident.opened_at,
        resolved_at=resolved_at,
        duration_s=max(0.0, (resolved_at - incident.opened_at).total_seconds()),
        resolved_by=f"<@{by}>" if by else "alerts resolved",
        analysis_summary=incident.analysis_summary,
        advised=incident.advised,
        actions=[f"{a.action} by {a.user}" for a in incident.actions],
        fix_note=incident.fix_note,
        thread=f"{incident.channel}:{incident.thread_ts}",
    )
