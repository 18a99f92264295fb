"""The fast stage's handler: dispatch a fast job by kind; nothing here waits on the model.

Alerts (channel posts and Alertmanager webhooks) go to the incident flow
(`bot/pipeline/incident_flow.py`), button clicks to `bot/pipeline/actions.py`; follow-ups and
questions are routed here — a resolved incident's "what fixed it" note is taken now, and the
answer is queued for the analysis stage (`bot/pipeline/analysis.py`). Each step is idempotent for
a given job id: replies go through the `Replier` (which finds its earlier message), audit
records are written once per job and kind (`bot/pipeline/recording.py`), and an analysis is
queued once per job (`Intake.submit_analysis`).
"""

from __future__ import annotations

import structlog

from bot import metrics
from bot.alerts.registry import parse_message
from bot.context.store import ContextStore
from bot.incidents.store import IncidentStore
from bot.pipeline.actions import IncidentActions
from bot.pipeline.conversations import PrivateConversations
from bot.pipeline.incident_flow import IncidentFlow
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import (
    ActionJob,
    AlertJob,
    AssistantThreadJob,
    FollowupAnalysis,
    FollowupJob,
    JobBase,
    QuestionAnalysis,
    QuestionJob,
    WebhookJob,
    analysis_id,
)
from bot.pipeline.recording import Recorder

log = structlog.get_logger(__name__)


class Processor:
    """The job handler the fast-stage workers call."""

    def __init__(
        self,
        *,
        store: ContextStore,
        incidents: IncidentStore,
        flow: IncidentFlow,
        actions: IncidentActions,
        intake: Intake,
        recorder: Recorder,
        webhook_channel: str | None = None,
        conversations: PrivateConversations | None = None,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.flow = flow
        self.actions = actions
        self.intake = intake
        self.recorder = recorder
        self.webhook_channel = webhook_channel
        self.conversations = conversations

    async def __call__(self, job: JobBase) -> None:
        structlog.contextvars.bind_contextvars(job_id=job.id, event_id=job.event_id)
        try:
            if isinstance(job, AlertJob):
                await self._alert_message(job)
            elif isinstance(job, WebhookJob):
                await self._webhook(job)
            elif isinstance(job, FollowupJob):
                await self._followup(job)
            elif isinstance(job, QuestionJob):
                await self._question(job)
            elif isinstance(job, ActionJob):
                await self.actions(job)
            elif isinstance(job, AssistantThreadJob):
                if self.conversations is not None:
                    await self.conversations.thread_started(job)
            else:
                log.error("job_kind_unknown", kind=type(job).__name__)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "event_id", "incident_id", "thread")

    # --- alerts -----------------------------------------------------------------------------
    async def _alert_message(self, job: AlertJob) -> None:
        alerts = parse_message(job.message)
        if not alerts:  # an integration's post the listener queued unparsed: a deploy notice…
            log.info("integration_post_not_an_alert", channel=job.channel, ts=job.ts)
            return
        if not job.edited and not all(a.recognised for a in alerts):
            metrics.ALERTS_UNRECOGNISED.inc()
        # an edit or a thread_broadcast updates the post it belongs to (thread_ts), not itself
        await self.flow.alerts(job, alerts, channel=job.channel, thread_ts=job.thread_ts or job.ts)

    async def _webhook(self, job: WebhookJob) -> None:
        """Alertmanager webhook: always remembered and audited; counted into incidents and
        posted when `WIZARD_WEBHOOK_CHANNEL` is set (the incident flow records the alerts)."""
        await self.recorder.once(
            "alerts_received",
            job,
            source="alertmanager-webhook",
            fingerprints=[a.fingerprint for a in job.alerts],
            statuses=[a.status for a in job.alerts],
        )
        if not self.webhook_channel or not job.alerts:
            await self.store.record_alerts(job.alerts)
            return
        await self.flow.alerts(job, job.alerts, channel=self.webhook_channel, thread_ts=None)

    # --- conversation: routed here, answered by the analysis stage ---------------------------
    async def _admitted(self, job: FollowupJob | QuestionJob) -> bool:
        """Channel questions were gated by their listener; a DM or the assistant pane is
        checked here (and refused politely) before anything is queued for the model."""
        if job.source == "channel":
            return True
        if self.conversations is None:
            log.warning("private_conversation_not_configured", source=job.source)
            return False
        return await self.conversations.admit(job)

    async def _followup(self, job: FollowupJob) -> None:
        if not await self._admitted(job):
            return
        info = await self.store.get_thread(job.channel, job.thread_ts)
        incident = await self.incidents.get(info.incident_id) if info and info.incident_id else None
        if incident is not None:
            # A reply after the incident ended is "what fixed it": remembered for next time.
            await self.flow.fix_note(job, incident, job.text, job.user)
        await self.intake.submit_analysis(
            FollowupAnalysis(
                id=analysis_id(job.id, "reply"),
                source_job=job.id,
                channel=job.channel,
                thread_ts=job.thread_ts,
                user=job.user,
                text=job.text,
                incident_id=incident.id if incident else None,
                source=job.source,
                event_id=job.event_id,
                received_at=job.received_at,
            )
        )

    async def _question(self, job: QuestionJob) -> None:
        """`/wizard <question>` or a mention outside a known thread: answered visibly; a DM's
        or the pane's first question: answered in its thread."""
        if not await self._admitted(job):
            return
        await self.intake.submit_analysis(
            QuestionAnalysis(
                id=analysis_id(job.id, "reply"),
                source_job=job.id,
                channel=job.channel,
                thread_ts=job.thread_ts or job.ts,  # a mention is answered in its thread
                user=job.user,
                text=job.text,
                response_url=job.response_url,
                source=job.source,
                event_id=job.event_id,
                received_at=job.received_at,
            )
        )
