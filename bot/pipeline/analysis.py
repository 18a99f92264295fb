"""The analysis stage's handler: every model call — triage, re-analysis, follow-up, question.

Fast jobs queue analyses (`bot/pipeline/jobs.py`); this stage runs many side by side. What
bounds it is the model, not a worker count: each call holds one slot of the `ModelGate`
(`WIZARD_LLM_CONCURRENCY`, paused by the API's rate-limit headers), and draws from the shared
`ModelBudget`. An analysis that has to wait for a slot says so in its thread ("queued: waiting
for a model slot"), in the message its answer then replaces.

Exactly once, as everywhere: each analysis posts under its own job id and slot through the
`Replier`, so a reclaimed analysis edits its message instead of posting another; its audit
record is written once per job and kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from bot.context.enrichment import Enricher
from bot.context.store import ContextStore, ThreadInfo
from bot.evidence.pack import EvidenceGatherer
from bot.evidence.render import evidence_lines
from bot.incidents.models import Incident
from bot.incidents.store import IncidentStore
from bot.models import PastAnswer, TriageResult
from bot.pipeline.budget import ModelBudget
from bot.pipeline.gate import ModelGate, ModelPaused
from bot.pipeline.incident_flow import no_enrichment, primary_alert
from bot.pipeline.jobs import FollowupAnalysis, JobBase, QuestionAnalysis, TriageAnalysis
from bot.pipeline.questions import QUEUED_NOTE, answer_followup, answer_question
from bot.pipeline.recording import Recorder, wizard_turn
from bot.redact import redact
from bot.render.answer import frame_for, render_answer
from bot.render.evidence import evidence_section
from bot.render.notes import render_placeholder
from bot.slack.replies import Replier
from bot.triage.wizard import Wizard

log = structlog.get_logger(__name__)


class Analyst:
    """The job handler the analysis-stage worker calls."""

    def __init__(
        self,
        *,
        store: ContextStore,
        incidents: IncidentStore,
        wizard: Wizard,
        replier: Replier,
        recorder: Recorder,
        gate: ModelGate,
        budget: ModelBudget,
        enricher: Enricher = no_enrichment,
        evidence: EvidenceGatherer | None = None,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.wizard = wizard
        self.replier = replier
        self.recorder = recorder
        self.gate = gate
        self.budget = budget
        self.enricher = enricher
        self.evidence = evidence

    async def __call__(self, job: JobBase) -> None:
        structlog.contextvars.bind_contextvars(job_id=job.id, event_id=job.event_id)
        try:
            if isinstance(job, TriageAnalysis):
                await self._triage(job)
            elif isinstance(job, FollowupAnalysis):
                await self._followup(job)
            elif isinstance(job, QuestionAnalysis):
                await self._question(job)
            else:
                log.error("job_kind_unknown", kind=type(job).__name__)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "event_id", "incident_id", "thread")

    async def ask_model(
        self,
        ask: Callable[[str | None], Awaitable[TriageResult]],
        skip: str | None,
        on_wait: Callable[[], Awaitable[None]],
    ) -> TriageResult:
        """Run `ask` holding a gate slot, unless no model call will be made (no API key, or a
        spent budget: the runbook answer needs no slot)."""
        if self.wizard.client is None or skip:
            return await ask(skip)
        try:
            async with self.gate.slot(on_wait, max_pause=self.wizard.client.deadline_s):
                return await ask(None)
        except ModelPaused as exc:  # longer than an answer may take: the runbook answer now
            return await ask(str(exc))

    # --- incidents ----------------------------------------------------------------------------
    async def _triage(self, job: TriageAnalysis) -> None:
        """Ask the wizard about the incident (or give the runbook answer past the budget)."""
        incident = await self.incidents.get(job.incident_id)
        if incident is None:
            log.warning("analysis_incident_gone", incident_id=job.incident_id)
            return
        structlog.contextvars.bind_contextvars(
            incident_id=incident.id, thread=f"{incident.channel}:{incident.thread_ts}"
        )
        if not incident.thread_ts:  # a webhook incident whose root card is not posted yet
            log.warning("analysis_deferred_no_thread_yet", incident_id=incident.id)
            return
        primary = await primary_alert(self.store, incident, job.alerts)
        if primary is None:
            log.warning("analysis_without_alert", incident_id=incident.id)
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
        context = await self.store.build_context(primary, group=job.alerts)
        past = await self.incidents.past_outcomes(
            services=incident.services, fingerprints=list(incident.alerts), exclude=incident.id
        )
        context = context.model_copy(
            update={
                "incident_facts": _incident_facts(incident),
                "past_incidents": past,
                "operator_facts": facts,
                "guidance": enrichment.guidance,
            }
        )
        if self.evidence is not None:
            # Before the model: ≤ WIZARD_EVIDENCE_BUDGET_S, and a failing source is a "not
            # available" line, never an error here.
            pack = await self.evidence.gather(context)
            context = context.model_copy(update={"evidence": pack})
        skip = None
        if self.wizard.client is not None:
            skip = await self.budget.for_incident(incident.id, requested_by=job.requested_by)
        slot = f"analysis:{incident.id}"

        async def queued() -> None:
            blocks, text = render_placeholder(primary, note=QUEUED_NOTE)
            await self.replier.ensure(
                job.id,
                slot,
                channel=incident.channel,
                thread_ts=incident.thread_ts,
                blocks=blocks,
                text=text,
            )

        async def step(note: str) -> None:
            """Each tool call shows in the thread while it runs: the analysis slot's message,
            updated in place (the answer replaces it)."""
            blocks, text = render_placeholder(primary, note=redact(note))
            await self.replier.ensure(
                job.id,
                slot,
                channel=incident.channel,
                thread_ts=incident.thread_ts,
                blocks=blocks,
                text=text,
            )

        async def ask(skip_model: str | None) -> TriageResult:
            return await self.wizard.triage(context, skip_model=skip_model, on_step=step)

        result = await self.ask_model(ask, skip, queued)
        heading = f"Re-analysis of {incident.id}: {job.why}" if job.why else None
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
                job_id=job.source_job,
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
            actor=job.requested_by or primary.source,
            incident_id=incident.id,
        )
        await self.incidents.mark_dirty(incident.id)

    # --- conversation (bot/pipeline/questions.py: streamed answers) -------------------------
    async def _followup(self, job: FollowupAnalysis) -> None:
        await answer_followup(self, job)

    async def _question(self, job: QuestionAnalysis) -> None:
        await answer_question(self, job)


def _incident_facts(incident: Incident) -> str:
    return (
        f"{incident.id} alerts={len(incident.alerts)} firing={len(incident.firing)} "
        f"resolved={len(incident.resolved)} notifications={incident.events} "
        f"instances={len(incident.instances)} services={len(incident.services)} "
        f"opened={incident.opened_at.isoformat(timespec='seconds')}"
    )
