"""Audit records written exactly once per job, and the thread-memory form of an answer.

A reclaimed job runs its steps again; the ledger remembers which audit kinds it already wrote so
the trail has one record per decision, not one per attempt.
"""

from __future__ import annotations

from typing import Any

from bot.audit.log import AuditLog, money
from bot.context.store import Turn
from bot.models import TriageResult
from bot.pipeline.jobs import AnalysisBase, Job
from bot.store import keys
from bot.store.ledger import JobLedger


class Recorder:
    """Writes the audit trail for jobs, once per job and kind."""

    def __init__(self, audit: AuditLog, ledger: JobLedger) -> None:
        self.audit = audit
        self.ledger = ledger

    async def once(self, kind: str, job: Job, **fields: Any) -> dict[str, Any] | None:
        """One audit record per job and kind, even when a reclaimed job runs again."""
        if (await self.ledger.get(job.id)).get(f"audited_{kind}"):
            return None
        record = await self.audit.append_once(
            keys.audited(job.id, kind), kind, job_id=job.id, **fields
        )
        if record is not None:
            await self.ledger.set(job.id, **{f"audited_{kind}": record["id"]})
        return record

    async def answer(
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
        incident_id: str | None = None,
    ) -> dict[str, Any] | None:
        """The audit record of one answer: its inputs (by hash), output, model and cost, and
        where it was asked (`source`: channel, dm or assistant) for questions and follow-ups."""
        return await self.once(
            kind,
            job,
            event_id=job.event_id,
            source=getattr(job, "source", None),
            source_job=job.source_job if isinstance(job, AnalysisBase) else None,
            thread=f"{channel}:{thread_ts}" if thread_ts else channel,
            fingerprint=fingerprint,
            incident_id=incident_id,
            actor=actor,
            question=question,
            model=result.model,
            prompt_hash=result.prompt_hash,
            fallback=result.fallback,
            fallback_reason=result.fallback_reason,
            runbook=result.runbook.id if result.runbook else None,
            answer=result.answer.model_dump(mode="json"),
            text=result.text,  # a streamed answer exactly as posted
            notes=result.notes,
            tool_calls=[c.model_dump(mode="json") for c in result.tool_calls],
            usage=result.usage.model_dump(mode="json", exclude={"cost_usd"}),
            cost_usd=("unknown" if result.usage.cost_usd is None else money(result.usage.cost_usd)),
            latency_ms=result.latency_ms,
            received_at=job.received_at.isoformat(),
        )


def wizard_turn(result: TriageResult) -> Turn:
    """An answer as thread memory: the summary, the actions and the questions asked."""
    answer = result.answer
    text = answer.summary + "\nImmediate actions: " + "; ".join(answer.immediate_actions[:6])
    if answer.clarifying_questions:
        text += "\nQuestions asked: " + "; ".join(answer.clarifying_questions[:4])
    return Turn(role="wizard", text=text[:2000])
