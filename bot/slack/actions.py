"""Buttons: the incident summary's actions and the feedback buttons on answers.

A state-changing click is queued as a durable job (a worker applies, notes and audits it) and
acked; feedback changes nothing, so it is counted and audited inside the ack.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck

from bot import metrics
from bot.audit.log import AuditLog
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import ActionJob
from bot.render.feedback import parse_feedback
from bot.render.incident import ACTION_RUNBOOK
from bot.slack.access import AccessPolicy, record_denial

log = structlog.get_logger(__name__)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class ButtonActions:
    """The block-action handlers, with the intake that queues clicks, the access policy for
    state-changing buttons and the audit log that records who did what."""

    def __init__(
        self, *, intake: Intake, policy: AccessPolicy, audit: AuditLog | None = None
    ) -> None:
        self.intake = intake
        self.policy = policy
        self.audit = audit

    # --- feedback on answers ----------------------------------------------------------------
    async def on_feedback(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        """👍 / 👎 / wrong runbook on an answer: counted and audited with who said it, then acked.

        Anyone who can see the answer may judge it (the team gate already ran); nothing changes
        state, so there is no privileged check. The record names the answer (job and slot), so
        `wizard audit export --feedback` can join verdicts with what was answered."""
        await ack()
        feedback = parse_feedback(action.get("value"))
        user = (body.get("user") or {}).get("id")
        if feedback is None or not isinstance(user, str):
            log.warning("feedback_malformed", action_id=action.get("action_id"))
            return
        metrics.FEEDBACK.labels(feedback.verdict).inc()
        channel = (body.get("channel") or {}).get("id")
        message_ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get(
            "message_ts"
        )
        log.info("feedback", verdict=feedback.verdict, answer_ref=feedback.answer_ref)
        if self.audit is not None:
            await self.audit.append(
                "feedback",
                actor=user,
                verdict=feedback.verdict,
                answer_ref=feedback.answer_ref,
                thread=f"{channel}:{message_ts}" if channel and message_ts else channel,
            )

    # --- buttons on the incident summary ----------------------------------------------------
    async def on_incident_action(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        """Queue the click as a durable job (applied, noted and audited by a worker), then ack.

        State-changing buttons (all but "Show runbook") follow `WIZARD_PRIVILEGED_USERS` /
        `_GROUPS` when either is set; otherwise anyone in the channel may use them.
        """
        user = (body.get("user") or {}).get("id")
        action_id = str(action.get("action_id") or "")
        incident_id = action.get("value")
        channel = (body.get("channel") or {}).get("id")
        if not isinstance(user, str) or not isinstance(incident_id, str) or not incident_id:
            log.warning("action_malformed", action_id=action_id)
            await ack()
            return
        if action_id != ACTION_RUNBOOK and not await self.policy.may_change_incidents(user):
            await record_denial(
                self.audit,
                "not_privileged",
                what=f"button {action_id}",
                user=user,
                channel=channel,
                text=incident_id[:100],
            )
            await ack()
            await respond(
                text="🧙 Only the on-call responders listed for this bot can change incidents.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        await self.intake.submit_slack(
            ActionJob(
                # the button's value is outside text: it reaches the id (a key name) only hashed
                id=f"act:{_digest(incident_id)}:{action_id}:"
                f"{action.get('action_ts') or uuid.uuid4().hex}",
                channel=channel if isinstance(channel, str) else None,
                user=user,
                action=action_id,
                incident_id=incident_id[:100],
                response_url=body.get("response_url"),
                event_id=action.get("action_ts"),
            )
        )
        await ack()
