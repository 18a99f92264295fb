"""What happens to alerts once parsed: incidents, their summary, analysis, resolution, buttons.

One incident = one thread. The job that opens an incident posts its summary card (the first
threaded message people see) and asks the wizard once; every later alert of the group only
counts into the incident and marks the summary for a coalesced update. A fresh analysis costs a
model call, so it happens only on a material change (a new service, a worse severity, a
reopened incident) or a human's "Re-run", within the per-incident and per-hour LLM budget;
past the budget the runbook answer is given instead, and says why.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from bot.context.enrichment import Enricher, Enrichment
from bot.context.store import ContextStore, ThreadInfo
from bot.door import echo
from bot.evidence.pack import EvidenceGatherer
from bot.evidence.render import evidence_lines
from bot.incidents.matching import Match, Matcher, from_post
from bot.incidents.models import Action, Incident, Outcome
from bot.incidents.silences import SilenceClient, SilenceFlow
from bot.incidents.store import IncidentStore
from bot.models import SEVERITY_RANK, Alert, PastAnswer
from bot.pipeline.jobs import Job
from bot.pipeline.recording import Recorder, wizard_turn
from bot.redact import redact
from bot.render.answer import frame_for, render_answer
from bot.render.evidence import evidence_section
from bot.render.format import thread_url
from bot.render.incident import (
    ACTION_ACK,
    ACTION_RERUN,
    ACTION_RESOLVE,
    ACTION_RUNBOOK,
    ACTION_SILENCE,
    ACTION_SILENCE_CONFIRM,
    ACTION_UNSILENCE,
    render_action_note,
    render_incident_resolved,
    render_silence_confirmation,
    render_summary,
)
from bot.render.notes import render_placeholder, render_runbook
from bot.slack.replies import Replier
from bot.triage.runbooks import RunbookCatalog
from bot.triage.wizard import Wizard

log = structlog.get_logger(__name__)


async def no_enrichment(alert: Alert) -> Enrichment:
    return Enrichment()


Silencer = SilenceClient  # what the flow needs from the Alertmanager API client


@dataclass
class Budget:
    """LLM calls allowed per incident (automatic analyses) and per hour (everything)."""

    per_incident: int = 3
    per_hour: int = 60


def most_severe(alerts: list[Alert]) -> Alert:
    """The alert a reply is about: the most severe firing one, else the first."""
    firing = [a for a in alerts if a.status == "firing"] or alerts
    return sorted(firing, key=lambda a: SEVERITY_RANK.get(a.severity, 9))[0]


class IncidentFlow:
    """Alerts → incidents → one summary, one analysis, one resolution note; and the buttons."""

    def __init__(
        self,
        *,
        store: ContextStore,
        incidents: IncidentStore,
        wizard: Wizard,
        replier: Replier,
        recorder: Recorder,
        runbooks: RunbookCatalog,
        budget: Budget | None = None,
        enricher: Enricher = no_enrichment,
        silencer: Silencer | None = None,
        runbook_base_url: str | None = None,
        evidence: EvidenceGatherer | None = None,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.wizard = wizard
        self.replier = replier
        self.recorder = recorder
        self.runbooks = runbooks
        self.budget = budget or Budget()
        self.enricher = enricher
        self.silencer = silencer
        self.silences = (
            SilenceFlow(
                client=silencer, store=store, incidents=incidents, redis_client=incidents.redis
            )
            if silencer is not None
            else None
        )
        self.runbook_base_url = runbook_base_url
        self.matcher: Matcher | None = Matcher(incidents, store)
        self.evidence = evidence

    # --- alerts -----------------------------------------------------------------------------
    async def alerts(
        self, job: Job, alerts: list[Alert], *, channel: str, thread_ts: str | None
    ) -> None:
        """Count `alerts` into their incidents. `thread_ts` is the alert post's own ts, or None
        for webhook alerts (an opened incident then gets a root message of its own)."""
        groups: dict[str, list[Alert]] = {}
        for alert in alerts:
            groups.setdefault(self.incidents.group_key(alert), []).append(alert)
        for group in groups.values():
            async with self._matching(group):
                match = await self._match(group)
                if match.sure is not None and from_post(group[0]):
                    known = {a.fingerprint for a in group} & set(match.sure.alerts)
                    if match.linked_only or not known:
                        # the webhook already counts this alert: link the post, not twice
                        await self._link(job, match.sure, group, channel, thread_ts, sure=True)
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
                for alert in group:
                    await self.store.record_alert(
                        alert,
                        channel=attached.incident.channel,
                        thread_ts=attached.incident.thread_ts or None,
                    )
            incident = attached.incident
            unsure = [i for i in match.unsure if i.id != incident.id]
            joined = match.sure is not None  # the other receiver's copy: already analysed
            if joined and incident.analyses:
                incident = await self._covered(incident)
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
                await self._remember_thread(job, incident, group, channel, thread_ts)
            if unsure and attached.change == "opened":
                # maybe the other receiver's copy of an alert we already analyse: link, once
                for other in unsure[:3]:
                    await self._link(job, other, group, incident.channel, incident.thread_ts)
                    await self._link(job, incident, group, other.channel, other.thread_ts)
            elif attached.change == "opened" and incident.firing:
                await self.analyse(job, incident, group, why=None)
            elif attached.material and not job.edited and not joined:
                await self.analyse(job, incident, group, why=_why(attached.change, incident))
            if attached.change == "resolved_all":
                await self.resolved(job, incident, by=None)
            await self.incidents.mark_dirty(incident.id)

    async def _covered(self, incident: Incident) -> Incident:
        """The analysis already covers what the other receiver's copy added (its labels name
        the service the default Slack template only hinted at): not a material change."""

        def covered(i: Incident) -> None:
            i.analysed_services = sorted(set(i.analysed_services) | set(i.services))

        return await self.incidents.update(incident.id, covered) or incident

    def _matching(self, group: list[Alert]) -> AbstractAsyncContextManager[object]:
        if group[0].source != "alertmanager" or self.matcher is None:
            return nullcontext()
        return self.incidents.match_lock(group[0].name)

    async def _match(self, group: list[Alert]) -> Match:
        """Webhook vs Slack post of one Alertmanager alert (bot/incidents/matching.py)."""
        if group[0].source != "alertmanager" or self.matcher is None:
            return Match()
        own_key = self.incidents.group_key(group[0])
        current = await self.incidents.current(own_key)
        if current is not None and current.group_key != own_key and not from_post(group[0]):
            return Match(sure=current)  # matched earlier: keep counting into that incident
        if current is not None:
            # the group has its incident; a post there after the webhook joined it is the same
            # notification twice: only a status it changes is taken (matched, not counted)
            if from_post(group[0]) and await self.matcher.has_webhook(current):
                changed = any(
                    a.fingerprint in current.alerts
                    and current.alerts[a.fingerprint].status != a.status
                    for a in group
                )
                return Match() if changed else Match(sure=current, linked_only=True)
            return Match()
        if from_post(group[0]):
            return await self.matcher.for_post(group)
        return await self.matcher.for_webhook(group)

    async def _link(
        self,
        job: Job,
        incident: Incident,
        group: list[Alert],
        channel: str,
        thread_ts: str | None,
        *,
        sure: bool = False,
    ) -> None:
        """A note in `thread_ts` pointing at `incident`'s thread; follow-ups there get its
        context when the match is sure."""
        if not thread_ts or not incident.thread_ts:
            return
        where = thread_url(incident.channel, incident.thread_ts)
        text = (
            f"🔗 Same alert as {incident.id}, which the other Alertmanager receiver already "
            f"reported: follow it in <{where}|its thread> (not counted or analysed twice)."
            if sure
            else f"🔗 Possibly the same alert as {incident.id} (<{where}|its thread>): not "
            "analysed twice. Ask here or there if they differ."
        )
        blocks, fallback = render_action_note(text)
        await self.replier.ensure(
            job.id,
            f"link:{incident.id}:{thread_ts}",
            channel=channel,
            thread_ts=thread_ts,
            blocks=blocks,
            text=fallback,
        )
        if sure:
            await self._remember_thread(job, incident, group, channel, thread_ts)

    async def _remember_thread(
        self, job: Job, incident: Incident, group: list[Alert], channel: str, thread_ts: str
    ) -> None:
        """Follow-ups in an alert post's own thread are answered with its incident's context."""
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

    async def _post_summary(
        self, job: Job, incident: Incident, thread_ts: str | None, group: list[Alert]
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
        await self.incidents.rendered(incident.id)
        return updated or incident

    async def render(
        self, incident: Incident, group: list[Alert] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """The summary card with the firm's facts and the last similar incident. `group` is the
        job's own alerts (the store may not have them yet when the incident opens)."""
        if self.silences is not None and incident.silences:
            incident = await self.silences.sync(incident)  # Alertmanager's state, not ours
        primary = await self._primary(incident, group or [])
        enrichment = await self.enricher(primary) if primary else Enrichment()
        memory = await self.incidents.past_outcomes(
            services=incident.services,
            fingerprints=list(incident.alerts),
            exclude=incident.id,
            limit=1,
        )
        return render_summary(
            incident,
            silence_enabled=self.silencer is not None,
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
        await self.replier.update(incident.channel, incident.summary_ts, blocks, text)
        await self.incidents.rendered(incident_id)
        return True

    async def _primary(self, incident: Incident, group: list[Alert]) -> Alert | None:
        """The full alert the incident is about: the most severe firing one we know."""
        candidates = list(group)
        ranked = sorted(
            incident.alerts.values(),
            key=lambda a: (a.status != "firing", SEVERITY_RANK.get(a.severity, 9)),
        )
        for entry in ranked[:5]:
            if not any(a.fingerprint == entry.fingerprint for a in candidates):
                record = await self.store.get_alert(entry.fingerprint)
                if record is not None:
                    candidates.append(record.alert)
        return most_severe(candidates) if candidates else None

    # --- analysis ---------------------------------------------------------------------------
    async def analyse(
        self,
        job: Job,
        incident: Incident,
        group: list[Alert],
        *,
        why: str | None,
        requested_by: str | None = None,
    ) -> None:
        """Ask the wizard about the incident (or give the runbook answer past the budget)."""
        primary = await self._primary(incident, group)
        if primary is None:
            log.warning("analysis_without_alert", incident_id=incident.id)
            return
        if not incident.thread_ts:  # a webhook incident whose root card is still being posted
            incident = await self.incidents.get(incident.id) or incident
            if not incident.thread_ts:
                log.warning("analysis_deferred_no_thread_yet", incident_id=incident.id)
                return
        # "is thinking…" under the thread at once; the answer (not a placeholder) notifies.
        await self.replier.thinking(incident.channel, incident.thread_ts)
        enrichment = await self.enricher(primary)
        facts = list(enrichment.facts)
        source_severity = primary.severity
        if enrichment.severity and enrichment.severity != primary.severity:
            # The model is told why (a trusted fact); people see it on the first screen.
            facts.append(
                f"severity assessed {enrichment.severity} (source said {primary.severity})"
                + (f": {enrichment.severity_reason}" if enrichment.severity_reason else "")
            )
            primary = primary.model_copy(update={"severity": enrichment.severity})
        context = await self.store.build_context(primary, group=group)
        past = await self.incidents.past_outcomes(
            services=incident.services, fingerprints=list(incident.alerts), exclude=incident.id
        )
        context = context.model_copy(
            update={
                "incident_facts": (
                    f"{incident.id} alerts={len(incident.alerts)} firing={len(incident.firing)} "
                    f"resolved={len(incident.resolved)} notifications={incident.events} "
                    f"instances={len(incident.instances)} services={len(incident.services)} "
                    f"opened={incident.opened_at.isoformat(timespec='seconds')}"
                ),
                "past_incidents": past,
                "operator_facts": facts,
                "guidance": enrichment.guidance,
            }
        )
        if self.evidence is not None:
            # After the card is posted and before the model: ≤ WIZARD_EVIDENCE_BUDGET_S, and a
            # failing source is a "not available" line, never an error here.
            pack = await self.evidence.gather(context)
            context = context.model_copy(update={"evidence": pack})
        skip = None
        if self.wizard.client is not None:
            skip = await self.incidents.take_llm_budget(
                incident.id,
                # A human's explicit re-run is not capped per incident, only per hour.
                per_incident=10**6 if requested_by else self.budget.per_incident,
                per_hour=self.budget.per_hour,
            )

        async def step(note: str) -> None:
            """Each tool call shows in the thread while it runs: the analysis slot's message,
            updated in place (the answer replaces it)."""
            blocks, text = render_placeholder(primary, note=redact(note))
            await self.replier.ensure(
                job.id,
                f"analysis:{incident.id}",
                channel=incident.channel,
                thread_ts=incident.thread_ts,
                blocks=blocks,
                text=text,
            )

        result = await self.wizard.triage(context, skip_model=skip, on_step=step)
        heading = f"Re-analysis of {incident.id}: {why}" if why else None
        slot = f"analysis:{incident.id}"
        raised = source_severity if primary.severity != source_severity else None
        frame = frame_for(
            primary,
            heading,
            headline=enrichment.headline,
            raised_from=raised,
            severity_reason=enrichment.severity_reason if raised else None,
            facts=enrichment.facts,
            changes=context.deploys,
            changes_window_h=self.store.deploy_window.total_seconds() / 3600,
            measured=evidence_section(context.evidence),
            hide_evidence=evidence_lines(context.evidence),
            incident_id=incident.id,
            answer_ref=f"{job.id}:{slot}",
        )
        try:
            await self.replier.post_answer(
                job.id,
                slot,
                channel=incident.channel,
                thread_ts=incident.thread_ts,
                answer=render_answer(result, frame),
            )
        except Exception:
            await self.replier.done_thinking(incident.channel, incident.thread_ts)
            raise

        def analysed(i: Incident) -> None:
            i.analyses += 1
            i.analysed_severity = i.severity
            i.assessed_severity = primary.severity
            i.severity_reason = enrichment.severity_reason if raised else None
            i.analysed_services = list(i.services)
            i.analysis_fallback = result.fallback
            i.analysis_summary = result.answer.summary[:500]
            i.advised = [a[:300] for a in result.answer.immediate_actions[:5]]

        await self.incidents.update(incident.id, analysed)
        await self.store.set_thread(
            ThreadInfo(
                channel=incident.channel,
                thread_ts=incident.thread_ts,
                kind="alert",
                fingerprint=primary.fingerprint,
                alert=primary,
                job_id=job.id,
                incident_id=incident.id,
            )
        )
        await self.store.record_answer(
            primary.fingerprint,
            PastAnswer(
                at=datetime.now(UTC),
                summary=result.answer.summary[:500],
                fallback=result.fallback,
                thread=f"{incident.channel}:{incident.thread_ts}",
            ),
        )
        await self.store.add_turn(incident.channel, incident.thread_ts, wizard_turn(result))
        await self.recorder.answer(
            "triage",
            job,
            result,
            incident.channel,
            incident.thread_ts,
            primary.fingerprint,
            actor=requested_by or primary.source,
            incident_id=incident.id,
        )
        await self.incidents.mark_dirty(incident.id)

    # --- resolution and memory ----------------------------------------------------------------
    async def resolved(self, job: Job, incident: Incident, *, by: str | None) -> None:
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
        await self.incidents.record_outcome(_outcome(incident, by))
        await self.incidents.mark_dirty(incident.id)

    async def fix_note(self, job: Job, incident: Incident, text: str) -> bool:
        """A reply in a resolved incident's thread is taken as "what fixed it", once."""
        if incident.state != "resolved" or incident.fix_note or not text.strip():
            return False
        note = text.strip()[:1000]

        def noted(i: Incident) -> None:
            i.fix_note = note

        updated = await self.incidents.update(incident.id, noted)
        if updated is None:
            return False
        await self.incidents.record_outcome(_outcome(updated, _resolver(updated)))
        await self.recorder.once(
            "fix_recorded",
            job,
            incident_id=incident.id,
            actor=job.user,
            fix_note=note,
            thread=f"{incident.channel}:{incident.thread_ts}",
        )
        await self.incidents.mark_dirty(incident.id)
        return True

    # --- buttons ----------------------------------------------------------------------------
    async def action(self, job: Job) -> None:
        """A button click, durable like any job: apply it once, note it, audit who and when."""
        incident = await self.incidents.get(job.incident_id or "")
        user = job.user or "unknown"
        structlog.contextvars.bind_contextvars(incident_id=job.incident_id)
        if incident is None:
            await self._tell(job, f"I no longer know incident {echo(job.incident_id, 100)}.")
            return
        if incident.channel != job.channel:
            # A button acts only on incidents of the channel it was pressed in: a crafted
            # payload naming another channel's incident must not ack or resolve it.
            log.warning(
                "action_wrong_channel", incident_channel=incident.channel, pressed_in=job.channel
            )
            await self._tell(job, "That button belongs to an incident of another channel.")
            return
        ledger = self.replier.ledger
        applied = (await ledger.get(job.id)).get("applied")
        outcome = "done"
        detail: str | None = None
        if job.action == ACTION_ACK:
            if incident.state != "open" and not applied:
                await self._tell(job, f"{incident.id} is already {incident.state}.")
                outcome = f"already {incident.state}"
            else:
                if not applied:
                    incident = await self._record_action(job, incident, "acknowledged")
                await self._note(job, incident, f"👀 <@{user}> acknowledged {incident.id}.")
        elif job.action == ACTION_RESOLVE:
            if incident.state == "resolved" and not applied:
                await self._tell(job, f"{incident.id} is already resolved.")
                outcome = "already resolved"
            else:
                if not applied:
                    incident = await self._record_action(job, incident, "resolved")
                await self.resolved(job, incident, by=user)
        elif job.action in (ACTION_SILENCE, ACTION_SILENCE_CONFIRM):
            outcome, detail = await self._silence(
                job, incident, applied=bool(applied), confirmed=job.action == ACTION_SILENCE_CONFIRM
            )
        elif job.action == ACTION_UNSILENCE:
            outcome, detail = await self._unsilence(job, incident, applied=bool(applied))
        elif job.action == ACTION_RERUN:
            await self.analyse(
                job, incident, [], why=f"re-run requested by <@{user}>", requested_by=user
            )
        elif job.action == ACTION_RUNBOOK:
            await self._show_runbook(job, incident)
        else:
            log.warning("unknown_action", action=job.action)
            outcome = "unknown action"
        await ledger.set(job.id, applied="1")
        await self.recorder.once(
            "incident_action",
            job,
            incident_id=incident.id,
            action=job.action,
            actor=user,
            outcome=outcome,
            detail=detail,
            at=job.received_at.isoformat(),
            thread=f"{incident.channel}:{incident.thread_ts}",
        )
        await self.incidents.mark_dirty(incident.id)

    async def _record_action(self, job: Job, incident: Incident, state: str) -> Incident:
        """Move the incident to `state` ("acknowledged" or "resolved") and record who did it."""
        now = job.received_at

        def change(i: Incident) -> None:
            i.actions.append(Action(action=state, user=job.user or "unknown", at=now))
            if state == "acknowledged" and i.state == "open":
                i.state = "acknowledged"
            elif state == "resolved":
                i.state = "resolved"
                i.resolved_at = now

        return await self.incidents.update(incident.id, change) or incident

    async def _silence(
        self, job: Job, incident: Incident, *, applied: bool, confirmed: bool
    ) -> tuple[str, str]:
        """Silence in Alertmanager (bot/incidents/silences.py); a name-only silence is first
        shown to the clicker with its exact matcher and made only once they confirm."""
        if self.silences is None:
            await self._tell(job, "Silencing needs ALERTMANAGER_URL to be set for the bot.")
            return "not configured", ""
        if applied:
            return "done", "already applied by this click"
        outcome, detail, prompt = await self.silences.silence(
            incident,
            job.user or "unknown",
            confirmed=confirmed,
            tell=lambda text: self._tell(job, text),
            note=lambda inc, text: self._note(job, inc, text),
        )
        if prompt is not None and job.response_url:
            blocks, text = render_silence_confirmation(incident.id, prompt["matchers"])
            await self.replier.respond(job.response_url, blocks, text, ephemeral=True)
        return outcome, detail

    async def _unsilence(self, job: Job, incident: Incident, *, applied: bool) -> tuple[str, str]:
        if self.silences is None:
            await self._tell(job, "Silencing needs ALERTMANAGER_URL to be set for the bot.")
            return "not configured", ""
        if applied:
            return "done", "already applied by this click"
        return await self.silences.expire(
            incident,
            job.user or "unknown",
            tell=lambda text: self._tell(job, text),
            note=lambda inc, text: self._note(job, inc, text),
        )

    async def _show_runbook(self, job: Job, incident: Incident) -> None:
        primary = await self._primary(incident, [])
        if primary is None:
            await self._tell(job, "No alert to match a runbook for.")
            return
        runbook, _score = self.runbooks.match(primary)
        ref = self.runbooks.ref(runbook, self.runbook_base_url)
        blocks, text = render_runbook(runbook.title, runbook.sections, ref.url)
        if job.response_url:
            await self.replier.respond(job.response_url, blocks, text, ephemeral=True)

    async def _note(self, job: Job, incident: Incident, text: str) -> None:
        blocks, fallback = render_action_note(text)
        await self.replier.ensure(
            job.id,
            "note",
            channel=incident.channel,
            thread_ts=incident.thread_ts,
            blocks=blocks,
            text=fallback,
        )

    async def _tell(self, job: Job, text: str) -> None:
        """An ephemeral answer to the clicker only."""
        if job.response_url:
            blocks, fallback = render_action_note(text)
            await self.replier.respond(job.response_url, blocks, fallback, ephemeral=True)
        else:
            log.info("action_feedback_dropped", text=text)


def _why(change: str, incident: Incident) -> str:
    if change == "reopened":
        return "it fired again after resolving"
    return f"it grew: severity {incident.severity}, services {', '.join(incident.services[:5])}"


def _resolver(incident: Incident) -> str | None:
    for action in reversed(incident.actions):
        if action.action == "resolved":
            return action.user
    return None


def _outcome(incident: Incident, by: str | None) -> Outcome:
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
