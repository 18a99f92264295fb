"""What a worker does with one job: parse → remember → ask the wizard → reply in thread → audit.

Each step is idempotent for a given job id: alert records are upserts, replies go through the
`Replier` (which finds its earlier message), and the audit record is written once, after the
final reply, keyed by the job id. A placeholder is posted first so people see the bot is on it
within a second; the answer replaces it in place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError

from bot.alerts.registry import parse_message
from bot.audit.log import AuditLog, money
from bot.context.store import ContextStore, ThreadInfo, Turn
from bot.models import Alert, PastAnswer, TriageResult
from bot.pipeline.jobs import Job
from bot.render.blocks import render_placeholder, render_resolved, render_triage
from bot.slack.replies import Replier
from bot.triage.wizard import Wizard

log = structlog.get_logger(__name__)

_SEVERITY_RANK = {"critical": 0, "high": 1, "warning": 2, "info": 3, "unknown": 4}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "alert": ("channel", "ts", "message"),
    "webhook": (),
    "followup": ("channel", "thread_ts", "text"),
    "question": ("channel", "text"),
}
_NO_CHANNEL = {"not_in_channel", "channel_not_found", "is_archived"}


def primary_alert(alerts: list[Alert]) -> Alert:
    """The alert a group's reply is about: the most severe firing one, else the first."""
    firing = [a for a in alerts if a.status == "firing"] or alerts
    return sorted(firing, key=lambda a: _SEVERITY_RANK.get(a.severity, 9))[0]


class Processor:
    """The job handler the workers call."""

    def __init__(
        self,
        *,
        store: ContextStore,
        wizard: Wizard,
        replier: Replier,
        audit: AuditLog,
        webhook_channel: str | None = None,
    ) -> None:
        self.store = store
        self.wizard = wizard
        self.replier = replier
        self.audit = audit
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
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "event_id")

    # --- alerts -----------------------------------------------------------------------------
    async def _alert_message(self, job: Job) -> None:
        alerts = parse_message(job.message)
        if not alerts:
            log.warning("alert_job_without_alerts", channel=job.channel, ts=job.ts)
            return
        await self._triage_in_thread(job, job.channel, job.ts, alerts)

    async def _webhook(self, job: Job) -> None:
        """Alertmanager webhook: always remembered; posted and triaged if a channel is set
        (then `_triage_in_thread` records the alerts, with their thread, exactly once)."""
        posting = bool(self.webhook_channel and job.alerts)
        if not posting:
            for alert in job.alerts:
                await self.store.record_alert(alert)
        await self._audit_once(
            "alerts_received",
            job,
            source="alertmanager-webhook",
            fingerprints=[a.fingerprint for a in job.alerts],
            statuses=[a.status for a in job.alerts],
        )
        if not posting or self.webhook_channel is None:
            return
        primary = primary_alert(job.alerts)
        blocks, text = render_placeholder(primary, note="alert received from Alertmanager")
        root = await self.replier.ensure(
            job.id, "root", channel=self.webhook_channel, thread_ts=None, blocks=blocks, text=text
        )
        await self._triage_in_thread(job, self.webhook_channel, root, job.alerts)

    async def _triage_in_thread(
        self,
        job: Job,
        channel: str,
        thread_ts: str,
        alerts: list[Alert],
    ) -> None:
        for alert in alerts:
            await self.store.record_alert(alert, channel=channel, thread_ts=thread_ts)
        primary = primary_alert(alerts)
        if primary.status == "resolved":
            await self._resolved(job, channel, thread_ts, primary)
            return
        blocks, text = render_placeholder(primary)
        await self.replier.ensure(
            job.id, "reply", channel=channel, thread_ts=thread_ts, blocks=blocks, text=text
        )
        context = await self.store.build_context(primary, group=alerts)
        result = await self.wizard.triage(context)
        blocks, text = render_triage(result, alert=primary)
        await self.replier.ensure(
            job.id, "reply", channel=channel, thread_ts=thread_ts, blocks=blocks, text=text
        )
        await self.store.set_thread(
            ThreadInfo(
                channel=channel,
                thread_ts=thread_ts,
                kind="alert",
                fingerprint=primary.fingerprint,
                alert=primary,
                job_id=job.id,
            )
        )
        await self.store.record_answer(
            primary.fingerprint,
            PastAnswer(
                at=datetime.now(UTC),
                summary=result.answer.summary[:500],
                fallback=result.fallback,
                thread=f"{channel}:{thread_ts}",
            ),
        )
        await self.store.add_turn(channel, thread_ts, _wizard_turn(result))
        await self._audit_answer(
            "triage", job, result, channel, thread_ts, primary.fingerprint, actor=primary.source
        )

    async def _resolved(self, job: Job, channel: str, thread_ts: str, alert: Alert) -> None:
        record = await self.store.get_alert(alert.fingerprint)
        end = alert.ends_at or datetime.now(UTC)
        duration = (end - record.first_seen).total_seconds() if record else None
        blocks, text = render_resolved(alert, duration)
        await self.replier.ensure(
            job.id, "reply", channel=channel, thread_ts=thread_ts, blocks=blocks, text=text
        )
        await self._audit_once(
            "resolved_noted",
            job,
            thread=f"{channel}:{thread_ts}",
            fingerprint=alert.fingerprint,
            duration_s=duration,
        )

    # --- conversation -----------------------------------------------------------------------
    async def _followup(self, job: Job) -> None:
        info = await self.store.get_thread(job.channel, job.thread_ts)
        turns = await self.store.turns(job.channel, job.thread_ts)
        context = await self.store.build_context(info.alert) if info and info.alert else None
        blocks, text = render_placeholder(None, note="thinking about your question")
        await self.replier.ensure(
            job.id, "reply", channel=job.channel, thread_ts=job.thread_ts, blocks=blocks, text=text
        )
        result = await self.wizard.followup(job.text, turns, context)
        blocks, text = render_triage(
            result, alert=info.alert if info else None, heading="Follow-up"
        )
        await self.replier.ensure(
            job.id, "reply", channel=job.channel, thread_ts=job.thread_ts, blocks=blocks, text=text
        )
        await self.store.add_turn(
            job.channel, job.thread_ts, Turn(role="user", text=job.text, user=job.user)
        )
        await self.store.add_turn(job.channel, job.thread_ts, _wizard_turn(result))
        await self._audit_answer(
            "followup",
            job,
            result,
            job.channel,
            job.thread_ts,
            info.fingerprint if info else None,
            actor=job.user,
            question=job.text,
        )

    async def _question(self, job: Job) -> None:
        """`/wizard <question>` or a mention outside a known thread: answer visibly."""
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
        blocks, text = render_triage(result, heading=heading)
        if ts is None:
            assert job.response_url
            await self.replier.respond(job.response_url, blocks, text)
            anchor = None
        else:
            await self.replier.ensure(
                job.id, "reply", channel=job.channel, thread_ts=thread_ts, blocks=blocks, text=text
            )
            anchor = thread_ts or ts
            await self.store.set_thread(
                ThreadInfo(channel=job.channel, thread_ts=anchor, kind="question", job_id=job.id)
            )
            await self.store.add_turn(
                job.channel, anchor, Turn(role="user", text=job.text, user=job.user)
            )
            await self.store.add_turn(job.channel, anchor, _wizard_turn(result))
        await self._audit_answer(
            "question", job, result, job.channel, anchor, None, actor=job.user, question=job.text
        )

    # --- audit ------------------------------------------------------------------------------
    async def _audit_once(self, kind: str, job: Job, **fields: Any) -> dict[str, Any] | None:
        """One audit record per job and kind, even when a reclaimed job runs again."""
        ledger = self.replier.ledger
        if (await ledger.get(job.id)).get(f"audited_{kind}"):
            return None
        record = await self.audit.append(kind, job_id=job.id, **fields)
        await ledger.set(job.id, **{f"audited_{kind}": record["id"]})
        return record

    async def _audit_answer(
        self,
        kind: str,
        job: Job,
        result: TriageResult,
        channel: str,
        thread_ts: str | None,
        fingerprint: str | None,
        *,
        actor: str | None,
        question: str | None = None,
    ) -> dict[str, Any] | None:
        return await self._audit_once(
            kind,
            job,
            event_id=job.event_id,
            thread=f"{channel}:{thread_ts}" if thread_ts else channel,
            fingerprint=fingerprint,
            actor=actor,
            question=question,
            model=result.model,
            prompt_hash=result.prompt_hash,
            fallback=result.fallback,
            fallback_reason=result.fallback_reason,
            runbook=result.runbook.id if result.runbook else None,
            answer=result.answer.model_dump(mode="json"),
            notes=result.notes,
            usage=result.usage.model_dump(mode="json", exclude={"cost_usd"}),
            cost_usd=money(result.usage.cost_usd),
            latency_ms=result.latency_ms,
            received_at=job.received_at.isoformat(),
        )


def _wizard_turn(result: TriageResult) -> Turn:
    answer = result.answer
    text = answer.summary + "\nImmediate actions: " + "; ".join(answer.immediate_actions[:6])
    if answer.clarifying_questions:
        text += "\nQuestions asked: " + "; ".join(answer.clarifying_questions[:4])
    return Turn(role="wizard", text=text[:2000])
