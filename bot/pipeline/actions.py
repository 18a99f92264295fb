"""The incident card's buttons, as fast jobs: applied once, noted in the thread, audited.

A click is durable like any job (the listener queued it before acking). "Re-run analysis" only
queues an analysis for the analysis stage; every other button is a few Redis and Slack calls.
"""

from __future__ import annotations

import structlog

from bot.context.store import ContextStore
from bot.door import echo
from bot.incidents.models import Action, Incident
from bot.incidents.silences import SilenceFlow
from bot.incidents.store import IncidentStore
from bot.pipeline.incident_flow import IncidentFlow, primary_alert
from bot.pipeline.jobs import ActionJob
from bot.pipeline.recording import Recorder
from bot.render.incident import (
    ACTION_ACK,
    ACTION_RERUN,
    ACTION_RESOLVE,
    ACTION_RUNBOOK,
    ACTION_SILENCE,
    ACTION_SILENCE_CONFIRM,
    ACTION_UNSILENCE,
    render_action_note,
    render_silence_confirmation,
)
from bot.render.notes import render_runbook
from bot.slack.replies import Replier
from bot.triage.runbooks import RunbookCatalog

log = structlog.get_logger(__name__)


class IncidentActions:
    """Acknowledge, Resolve, Silence, Re-run, Show runbook."""

    def __init__(
        self,
        *,
        flow: IncidentFlow,
        store: ContextStore,
        incidents: IncidentStore,
        replier: Replier,
        recorder: Recorder,
        runbooks: RunbookCatalog,
        silences: SilenceFlow | None = None,
        runbook_base_url: str | None = None,
    ) -> None:
        self.flow = flow
        self.store = store
        self.incidents = incidents
        self.replier = replier
        self.recorder = recorder
        self.runbooks = runbooks
        self.silences = silences
        self.runbook_base_url = runbook_base_url

    async def __call__(self, job: ActionJob) -> None:
        """Apply the click once, note it, audit who and when."""
        incident = await self.incidents.get(job.incident_id)
        user = job.user
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
                await self.flow.resolved(job, incident, by=user)
        elif job.action in (ACTION_SILENCE, ACTION_SILENCE_CONFIRM):
            outcome, detail = await self._silence(
                job, incident, applied=bool(applied), confirmed=job.action == ACTION_SILENCE_CONFIRM
            )
        elif job.action == ACTION_UNSILENCE:
            outcome, detail = await self._unsilence(job, incident, applied=bool(applied))
        elif job.action == ACTION_RERUN:
            await self.flow.request_analysis(
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

    async def _record_action(self, job: ActionJob, incident: Incident, state: str) -> Incident:
        """Move the incident to `state` ("acknowledged" or "resolved") and record who did it."""
        now = job.received_at

        def change(i: Incident) -> None:
            i.actions.append(Action(action=state, user=job.user, at=now))
            if state == "acknowledged" and i.state == "open":
                i.state = "acknowledged"
            elif state == "resolved":
                i.state = "resolved"
                i.resolved_at = now

        return await self.incidents.update(incident.id, change) or incident

    async def _silence(
        self, job: ActionJob, incident: Incident, *, applied: bool, confirmed: bool
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
            job.user,
            confirmed=confirmed,
            tell=lambda text: self._tell(job, text),
            note=lambda inc, text: self._note(job, inc, text),
        )
        if prompt is not None and job.response_url:
            blocks, text = render_silence_confirmation(incident.id, prompt["matchers"])
            await self.replier.respond(job.response_url, blocks, text, ephemeral=True)
        return outcome, detail

    async def _unsilence(
        self, job: ActionJob, incident: Incident, *, applied: bool
    ) -> tuple[str, str]:
        if self.silences is None:
            await self._tell(job, "Silencing needs ALERTMANAGER_URL to be set for the bot.")
            return "not configured", ""
        if applied:
            return "done", "already applied by this click"
        return await self.silences.expire(
            incident,
            job.user,
            tell=lambda text: self._tell(job, text),
            note=lambda inc, text: self._note(job, inc, text),
        )

    async def _show_runbook(self, job: ActionJob, incident: Incident) -> None:
        primary = await primary_alert(self.store, incident, [])
        if primary is None:
            await self._tell(job, "No alert to match a runbook for.")
            return
        runbook, _score = self.runbooks.match(primary)
        ref = self.runbooks.ref(runbook, self.runbook_base_url)
        blocks, text = render_runbook(runbook.title, runbook.sections, ref.url)
        if job.response_url:
            await self.replier.respond(job.response_url, blocks, text, ephemeral=True)

    async def _note(self, job: ActionJob, incident: Incident, text: str) -> None:
        blocks, fallback = render_action_note(text)
        await self.replier.ensure(
            job.id,
            "note",
            channel=incident.channel,
            thread_ts=incident.thread_ts,
            blocks=blocks,
            text=fallback,
        )

    async def _tell(self, job: ActionJob, text: str) -> None:
        """An ephemeral answer to the clicker only."""
        if job.response_url:
            blocks, fallback = render_action_note(text)
            await self.replier.respond(job.response_url, blocks, fallback, ephemeral=True)
        else:
            log.info("action_feedback_dropped", text=text)
