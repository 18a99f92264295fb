"""What a worker does with one job: dispatch by kind, then reply in thread and audit.

Alerts (channel posts and Alertmanager webhooks) and button clicks go to the incident flow
(`bot/pipeline/incident_flow.py`); follow-ups and questions are answered here. Each step is
idempotent for a given job id: replies go through the `Replier` (which finds its earlier
message), and audit records are written once per job and kind (`bot/pipeline/recording.py`).
"""

from __future__ import annotations

import structlog
from slack_sdk.errors import SlackApiError

from bot.alerts.registry import parse_message
from bot.context.store import ContextStore, ThreadInfo, Turn
from bot.incidents.store import IncidentStore
from bot.pipeline.incident_flow import IncidentFlow
from bot.pipeline.jobs import Job
from bot.pipeline.recording import Recorder, wizard_turn
from bot.render.answer import frame_for, render_answer
from bot.render.notes import render_placeholder
from bot.slack.replies import FOLLOWUP_LOADING, Replier
from bot.triage.wizard import Wizard

log = structlog.get_logger(__name__)

_REQUIRED: dict[str, tuple[str, ...]] = {
    "alert": ("channel", "ts", "message"),
    "webhook": (),
    "followup": ("channel", "thread_ts", "text"),
    "question": ("channel", "text"),
    "action": ("action", "incident_id", "user"),
}
_NO_CHANNEL = {"not_in_channel", "channel_not_found", "is_archived"}


class Processor:
    """The job handler the workers call: dispatches by kind; alerts go to the incident flow."""

    def __init__(
        self,
        *,
        store: ContextStore,
        incidents: IncidentStore,
        flow: IncidentFlow,
        wizard: Wizard,
        replier: Replier,
        recorder: Recorder,
        webhook_channel: str | None = None,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.flow = flow
        self.wizard = wizard
        self.replier = replier
        self.recorder = recorder
        self.webhook_channel = webhook_channel

    async def __call__(self, job: Job) -> None:
        structlog.contextvars.bind_contextvars(job_id=job.id, event_id=job.event_id)
        missing = [f for f in _REQUIRED[job.kind] if getattr(job, f) in (None, "")]
        if missing:
            # Retrying cannot fix a job without its channel or text: say so loudly, once.
            log.error("job_invalid", kind=job.kind, missing=missing)
            structlog.contextvars.unbind_contextvars("job_id", "event_id")
            return
        try:
            if job.kind == "alert":
                await self._alert_message(job)
            elif job.kind == "webhook":
                await self._webhook(job)
            elif job.kind == "followup":
                await self._followup(job)
            elif job.kind == "question":
                await self._question(job)
            elif job.kind == "action":
                await self.flow.action(job)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "event_id", "incident_id", "thread")

    # --- alerts -----------------------------------------------------------------------------
    async def _alert_message(self, job: Job) -> None:
        alerts = parse_message(job.message or {})
        if not alerts:
            log.warning("alert_job_without_alerts", channel=job.channel, ts=job.ts)
            return
        assert job.channel and job.ts
        # an edit or a thread_broadcast updates the post it belongs to (thread_ts), not itself
        await self.flow.alerts(job, alerts, channel=job.channel, thread_ts=job.thread_ts or job.ts)

    async def _webhook(self, job: Job) -> None:
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
            for alert in job.alerts:
                await self.store.record_alert(alert)
            return
        await self.flow.alerts(job, job.alerts, channel=self.webhook_channel, thread_ts=None)

    # --- conversation -----------------------------------------------------------------------
    async def _followup(self, job: Job) -> None:
        assert job.channel and job.thread_ts and job.text
        info = await self.store.get_thread(job.channel, job.thread_ts)
        incident = await self.incidents.get(info.incident_id) if info and info.incident_id else None
        if incident is not None:
            # A reply after the incident ended is "what fixed it": remembered for next time.
            await self.flow.fix_note(job, incident, job.text)
        turns = await self.store.turns(job.channel, job.thread_ts)
        context = None
        facts: list[str] = []
        if info and info.alert:
            # The same firm facts as the triage (session state, freeze, owner), now, not then.
            enrichment = await self.flow.enricher(info.alert)
            facts = enrichment.facts
            context = (await self.store.build_context(info.alert)).model_copy(
                update={"operator_facts": enrichment.facts, "guidance": enrichment.guidance}
            )
        if not await self.replier.thinking(job.channel, job.thread_ts, FOLLOWUP_LOADING):
            # No thinking status in this workspace: a placeholder says we are on it.
            blocks, text = render_placeholder(None, note="thinking about your question")
            await self.replier.ensure(
                job.id, "reply", channel=job.channel, thread_ts=job.thread_ts, blocks=blocks,
                text=text,
            )  # fmt: skip
        result = await self.wizard.followup(job.text, turns, context)
        frame = frame_for(
            info.alert if info else None,
            "Follow-up",
            facts=facts,
            incident_id=incident.id if incident else None,
            answer_ref=f"{job.id}:reply",
        )
        await self.replier.post_answer(
            job.id,
            "reply",
            channel=job.channel,
            thread_ts=job.thread_ts,
            answer=render_answer(result, frame),
        )
        await self.store.add_turn(
            job.channel, job.thread_ts, Turn(role="user", text=job.text, user=job.user)
        )
        await self.store.add_turn(job.channel, job.thread_ts, wizard_turn(result))
        await self.recorder.answer(
            "followup",
            job,
            result,
            job.channel,
            job.thread_ts,
            info.fingerprint if info else None,
            actor=job.user,
            question=job.text,
            incident_id=incident.id if incident else None,
        )

    async def _question(self, job: Job) -> None:
        """`/wizard <question>` or a mention outside a known thread: answer visibly."""
        if job.channel is None or job.text is None:
            raise ValueError(f"question job {job.id} has no channel or no text")
        heading = f"Question from {job.user or 'someone'}"
        blocks, text = render_placeholder(None, note="thinking about your question")
        thread_ts = job.thread_ts or job.ts  # a mention is answered in its thread
        try:
            ts = await self.replier.ensure(
                job.id, "reply", channel=job.channel, thread_ts=thread_ts, blocks=blocks, text=text
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in _NO_CHANNEL or not job.response_url:
                raise
            ts = None
        result = await self.wizard.question(job.text)
        rendered = render_answer(result, frame_for(None, heading, answer_ref=f"{job.id}:reply"))
        if ts is None:
            assert job.response_url
            for blocks, text in (rendered.first, rendered.plan):
                await self.replier.respond(job.response_url, blocks, text)
            anchor = None
        else:
            await self.replier.post_answer(
                job.id, "reply", channel=job.channel, thread_ts=thread_ts, answer=rendered
            )
            anchor = thread_ts or ts
            await self.store.set_thread(
                ThreadInfo(channel=job.channel, thread_ts=anchor, kind="question", job_id=job.id)
            )
            await self.store.add_turn(
                job.channel, anchor, Turn(role="user", text=job.text, user=job.user)
            )
            await self.store.add_turn(job.channel, anchor, wizard_turn(result))
        await self.recorder.answer(
            "question", job, result, job.channel, anchor, None, actor=job.user, question=job.text
        )
