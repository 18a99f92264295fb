"""`/wizard`: help, status, runbook, freeze, or a question queued for the analysis stage.

Every sub-command answers inside the ack (Slack's 3 s), from Redis and the runbook catalog only;
a question is queued as a durable job and acked at once (the answer is posted by a worker). The
channel gate runs first, so a refused command changes nothing and is audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncBoltRequest

from bot.audit.log import AuditLog
from bot.context.store import ContextStore
from bot.door import Door, echo
from bot.freeze import FreezeCommandError, FreezeStore, parse_freeze_command, status_text
from bot.freeze.store import FreezeReplayed, FreezeStale
from bot.incidents.store import IncidentStore
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import QuestionJob
from bot.render.incident import incidents_section
from bot.render.mrkdwn import escape_mrkdwn
from bot.render.notes import render_error, render_help, render_runbook, render_status
from bot.slack.access import AccessPolicy, channel_denial_text, record_denial
from bot.text import clean_text
from bot.triage.runbooks import RunbookCatalog

log = structlog.get_logger(__name__)

MAX_QUESTION_CHARS = 4000
"""The longest question (command text or mention) handed on; the rest is cut at the door."""


def signed_request(request: AsyncBoltRequest | None) -> tuple[str | None, datetime | None]:
    """(digest of the request's Slack signature, its signed timestamp): the same signed request
    replayed has the same digest (so it applies once), and the timestamp orders changes."""
    if request is None:
        return None, None
    signature = request.headers.get("x-slack-signature", [""])[0]
    timestamp = request.headers.get("x-slack-request-timestamp", [""])[0]
    if not signature or not timestamp.isdigit():
        return None, None  # Socket Mode: Slack delivers each envelope once, acked by id
    when = datetime.fromtimestamp(int(timestamp), tz=UTC)
    return hashlib.sha256(signature.encode()).hexdigest(), when


class WizardCommand:
    """The `/wizard` handler, holding what its sub-commands read (store, incidents, catalog,
    freezes) and the access policy that gates channels and freeze changes."""

    def __init__(
        self,
        *,
        intake: Intake,
        door: Door,
        policy: AccessPolicy,
        store: ContextStore,
        catalog: RunbookCatalog,
        runbook_base_url: str | None = None,
        audit: AuditLog | None = None,
        freezes: FreezeStore | None = None,
        incidents: IncidentStore | None = None,
    ) -> None:
        self.intake = intake
        self.door = door
        self.policy = policy
        self.store = store
        self.catalog = catalog
        self.runbook_base_url = runbook_base_url
        self.audit = audit
        self.freezes = freezes
        self.incidents = incidents

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], request: AsyncBoltRequest | None = None
    ) -> None:
        text = clean_text(command.get("text") or "").strip()[:MAX_QUESTION_CHARS]
        if not isinstance(command.get("channel_id"), str) or not command.get("user_id"):
            log.warning("command_malformed", keys=sorted(command)[:20])
            await ack(text="🧙 That request was incomplete (no channel or user).")
            return
        word, _, rest = text.partition(" ")
        word = word.lower()
        if not self.policy.channel_allowed_for_commands(command["channel_id"]):
            await record_denial(
                self.audit,
                "channel_not_allowed",
                what=f"command /wizard {word or 'help'}",
                user=command.get("user_id"),
                channel=command["channel_id"],
                text=text[:300],
            )
            await ack(text=channel_denial_text(self.policy), response_type="ephemeral")
            return
        if word in ("", "help"):
            blocks, fallback = render_help()
            await ack(blocks=blocks, text=fallback, response_type="ephemeral")
        elif word == "status":
            await self._status(ack)
        elif word == "runbook":
            await self._runbook(ack, rest.strip())
        elif word == "freeze":
            await self._freeze(ack, command, rest.strip(), request)
        else:
            queued = await self.intake.submit_slack(
                QuestionJob(
                    id=f"cmd:{command.get('trigger_id') or uuid.uuid4().hex}",
                    channel=command["channel_id"],
                    user=command.get("user_id"),
                    text=text,
                    response_url=command.get("response_url"),
                    event_id=command.get("trigger_id"),
                )
            )
            await ack(
                text=(
                    f"🧙 <@{command.get('user_id')}> asked: {echo(text)}\nThinking — the answer "
                    "will appear in this channel."
                    if queued
                    else "🧙 Already working on that question."
                ),
                response_type="in_channel" if queued else "ephemeral",
            )

    async def _freeze(
        self,
        ack: AsyncAck,
        command: dict[str, Any],
        text: str,
        request: AsyncBoltRequest | None = None,
    ) -> None:
        """`/wizard freeze on [for 2h|until ISO] [services a,b] [venues LSE] [reason…]`, `off`,
        `status`. Turning a freeze on or off is a change-control decision: privileged users only
        when a privileged list is set, announced in the channel and audited."""
        if self.freezes is None:
            await ack(text="🧙 Change freezes are not configured.", response_type="ephemeral")
            return
        user = str(command.get("user_id"))
        try:
            parsed = parse_freeze_command(text, datetime.now(UTC))
        except FreezeCommandError as exc:
            await ack(text=f"🧙 {echo(exc, 600)}", response_type="ephemeral")
            return
        if parsed.action == "status":
            active = await self.freezes.active(datetime.now(UTC))
            history = await self.freezes.history(1)
            reply = escape_mrkdwn(status_text(active, history))
            await ack(text=f"❄️ {reply}", response_type="ephemeral")
            return
        if not await self.policy.may_change_incidents(user):
            await record_denial(
                self.audit,
                "not_privileged",
                what=f"command /wizard freeze {parsed.action}",
                user=user,
                channel=command.get("channel_id"),
                text=text[:300],
            )
            await ack(
                text="🧙 Only the on-call responders listed for this bot can change freezes.",
                response_type="ephemeral",
            )
            return
        reason = await self.door.text(parsed.reason) if parsed.reason else ""
        request_id, requested_at = signed_request(request)
        try:
            window = await self.freezes.set_manual(
                parsed.action == "on",
                by=user,
                reason=reason or "manual freeze",
                until=parsed.until,
                scope=parsed.scope,
                request_id=request_id,
                requested_at=requested_at,
            )
        except FreezeReplayed:
            log.warning("freeze_request_replayed", user=user, action=parsed.action)
            await ack(text="🧙 That request was already applied.", response_type="ephemeral")
            return
        except FreezeStale:
            log.warning("freeze_request_stale", user=user, action=parsed.action)
            await ack(
                text="🧙 A newer freeze change is already in force; this older request was "
                "not applied. Check `/wizard freeze status`.",
                response_type="ephemeral",
            )
            return
        if self.audit is not None:
            await self.audit.append(
                "freeze_changed",
                actor=user,
                action=parsed.action,
                reason=reason,
                until=parsed.until.isoformat() if parsed.until else None,
                scope=parsed.scope.describe(),
                channel=command.get("channel_id"),
            )
        if window is not None:
            said = f"❄️ <@{user}> turned a change freeze ON: {escape_mrkdwn(window.describe())}"
        else:
            said = f"🌤️ <@{user}> lifted the manual change freeze."
        await ack(text=said, response_type="in_channel")

    async def _status(self, ack: AsyncAck) -> None:
        try:
            async with asyncio.timeout(2.0):
                records = await self.store.open_alerts()
                open_incidents = await self.incidents.open_incidents() if self.incidents else []
        except Exception:
            log.exception("status_failed")
            blocks, text = render_error("I could not read alert state from Redis just now.")
        else:
            blocks, text = render_status(records, incidents=incidents_section(open_incidents))
        await ack(blocks=blocks, text=text, response_type="ephemeral")

    async def _runbook(self, ack: AsyncAck, query: str) -> None:
        if not query:
            names = ", ".join(f"`{r.id}`" for r in self.catalog.all())
            await ack(text=f"Runbooks: {names}", response_type="ephemeral")
            return
        runbook = self.catalog.get(query)
        matches = [runbook] if runbook else self.catalog.search(query)
        if not matches:
            shown = echo(query, 100, escape=False)  # render_error escapes
            blocks, text = render_error(f"No runbook matches “{shown}”. Try `/wizard runbook`.")
        else:
            chosen = matches[0]
            ref = self.catalog.ref(chosen, self.runbook_base_url)
            blocks, text = render_runbook(chosen.title, chosen.sections, ref.url)
        await ack(blocks=blocks, text=text, response_type="ephemeral")
