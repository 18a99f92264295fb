"""Slack listeners: classify, enqueue, ack. Nothing slow happens here.

Bolt has already verified the request signature (and answered url_verification/ssl_check). Each
listener decides what kind of job an event is, hands it to `Intake` (dedup + durable enqueue in
one atomic step) and returns, so the ack goes back to Slack in milliseconds. The app runs with
`process_before_response=True`, so the ack is sent only after the job is durably queued: if Redis
is down, Slack sees an error and retries instead of the alert vanishing.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.alerts.registry import (
    IGNORED_SUBTYPES,
    edited_message,
    is_from_integration,
    parse_message,
)
from bot.audit.log import AuditLog
from bot.context.store import ContextStore
from bot.door import Door, echo
from bot.freeze import FreezeCommandError, FreezeStore, parse_freeze_command, status_text
from bot.freeze.store import FreezeReplayed, FreezeStale
from bot.incidents.store import IncidentStore
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import ActionJob, AlertJob, FollowupJob, QuestionJob
from bot.render.feedback import FEEDBACK_ACTIONS, parse_feedback
from bot.render.incident import ACTION_RUNBOOK, ACTIONS, incidents_section
from bot.render.mrkdwn import escape_mrkdwn
from bot.render.notes import render_error, render_help, render_runbook, render_status
from bot.slack.access import AccessPolicy, TeamGate, channel_denial_text, record_denial
from bot.text import clean_text
from bot.triage.runbooks import RunbookCatalog

log = structlog.get_logger(__name__)

MAX_QUESTION_CHARS = 4000


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


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


def _user_id(event: dict[str, Any]) -> str | None:
    """The event's user id; `user` is an object only on events we do not act on (user_change),
    so anything but a string is no user (a malformed body must never become a 500)."""
    user = event.get("user")
    return user if isinstance(user, str) else None


def _strip_mention(text: str) -> str:
    """`<@U123> what now?` → `what now?`."""
    words = text.split()
    while words and words[0].startswith("<@") and words[0].endswith(">"):
        words.pop(0)
    return " ".join(words)


class SlackListeners:
    """The listeners, holding what they need to classify (channels, store, catalog) and the
    access policy: foreign teams are stopped by `TeamGate` before any listener runs; `/wizard`
    and new mentions outside `WIZARD_COMMAND_CHANNELS` are refused here, politely and audited.
    Follow-ups in threads the wizard already answers, and alert triage, are not channel-gated."""

    def __init__(
        self,
        *,
        intake: Intake,
        store: ContextStore,
        catalog: RunbookCatalog,
        alert_channels: frozenset[str],
        runbook_base_url: str | None = None,
        policy: AccessPolicy | None = None,
        audit: AuditLog | None = None,
        freezes: FreezeStore | None = None,
        incidents: IncidentStore | None = None,
        door: Door | None = None,
    ) -> None:
        self.intake = intake
        self.door = door or intake.door
        self.policy = policy or AccessPolicy()
        self.audit = audit
        self.store = store
        self.catalog = catalog
        self.alert_channels = alert_channels
        self.runbook_base_url = runbook_base_url
        self.freezes = freezes
        self.incidents = incidents

    def register(self, app: AsyncApp) -> None:
        TeamGate(self.policy, self.audit).register(app)
        app.event("message")(self.on_message)
        app.event("app_mention")(self.on_mention)
        app.command("/wizard")(self.on_command)
        for action_id in ACTIONS:
            app.action(action_id)(self.on_incident_action)
        for action_id in FEEDBACK_ACTIONS:
            app.action(action_id)(self.on_feedback)
        # Everything else Slack sends is acked and ignored, so Slack never retries it.
        app.event(re.compile(".*"))(self.ignore)
        app.action(re.compile(".*"))(self.ack_only)

    async def ignore(self) -> None:
        """Events we subscribe to only incidentally (edits, joins…)."""

    async def ack_only(self, ack: AsyncAck) -> None:
        await ack()

    # --- events -----------------------------------------------------------------------------
    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        subtype = event.get("subtype")
        channel = event.get("channel")
        ts = event.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            log.warning("message_event_malformed", event_id=body.get("event_id"))
            return
        if not isinstance(subtype, str | None) or subtype in IGNORED_SUBTYPES:
            return
        if subtype == "message_changed":
            await self._on_edit(body, event, channel)
            return
        event_id = body.get("event_id")
        thread_ts = event.get("thread_ts")
        in_thread = isinstance(thread_ts, str) and thread_ts != ts
        broadcast = subtype == "thread_broadcast"  # a thread reply also shown in the channel
        if channel in self.alert_channels and (not in_thread or broadcast):
            alerts = parse_message(event)
            if alerts:
                if not all(a.recognised for a in alerts):
                    metrics.ALERTS_UNRECOGNISED.inc()
                await self.intake.submit_slack(
                    AlertJob(
                        id=f"msg:{channel}:{ts}",
                        channel=channel,
                        ts=ts,
                        thread_ts=thread_ts if in_thread else None,
                        message=event,
                        event_id=event_id,
                    )
                )
                return
            if not in_thread:
                if is_from_integration(event):  # a deploy announcement (never an unknown alert)
                    log.info("integration_post_not_an_alert", channel=channel, ts=ts)
                return
        if (
            in_thread
            and isinstance(thread_ts, str)
            and event.get("user")
            and not event.get("bot_id")
        ):
            if await self.store.get_thread(channel, thread_ts) is None:
                return
            text = _strip_mention(str(event.get("text") or ""))[:MAX_QUESTION_CHARS]
            if text:
                await self.intake.submit_slack(
                    FollowupJob(
                        id=f"msg:{channel}:{ts}",
                        channel=channel,
                        ts=ts,
                        thread_ts=thread_ts,
                        user=_user_id(event),
                        text=text,
                        event_id=event_id,
                    )
                )

    async def _on_edit(self, body: dict[str, Any], event: dict[str, Any], channel: str) -> None:
        """An integration edited its alert post (Zabbix's recovery, Sentry's resolve, an ack):
        queue the post as it now reads, to update its incident without a new analysis."""
        inner = edited_message(event)
        if inner is None or channel not in self.alert_channels or not is_from_integration(inner):
            return
        post_ts = str(inner["ts"])
        edit_ts = event.get("ts") or event.get("event_ts")
        if not isinstance(edit_ts, str) or not parse_message(inner):
            return
        await self.intake.submit_slack(
            AlertJob(
                id=f"edit:{channel}:{post_ts}:{edit_ts}",
                channel=channel,
                ts=edit_ts,
                thread_ts=post_ts,
                message=inner,
                event_id=body.get("event_id"),
                edited=True,
            )
        )

    async def on_mention(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        channel = event.get("channel")
        ts = event.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            return
        text = _strip_mention(str(event.get("text") or ""))[:MAX_QUESTION_CHARS]
        thread_ts = event.get("thread_ts")
        in_thread = isinstance(thread_ts, str) and thread_ts != ts
        known = (
            isinstance(thread_ts, str)
            and in_thread
            and await self.store.get_thread(channel, thread_ts) is not None
        )
        if not known and not self.policy.channel_allowed_for_commands(channel):
            await self._deny_mention(client, event, channel, text)
            return
        if not text:
            text = "What should we do about this?" if known else "help"
        user = _user_id(event)
        event_id = body.get("event_id")
        if known:
            assert isinstance(thread_ts, str)
            await self.intake.submit_slack(
                FollowupJob(
                    id=f"msg:{channel}:{ts}",
                    channel=channel,
                    ts=ts,
                    thread_ts=thread_ts,
                    user=user,
                    text=text,
                    event_id=event_id,
                )
            )
            return
        await self.intake.submit_slack(
            QuestionJob(
                id=f"msg:{channel}:{ts}",
                channel=channel,
                ts=ts,
                thread_ts=thread_ts if in_thread else None,
                user=user,
                text=text,
                event_id=event_id,
            )
        )

    async def _deny_mention(
        self, client: AsyncWebClient, event: dict[str, Any], channel: str, text: str
    ) -> None:
        """Audit the refused mention and tell only the asker why (an ephemeral message)."""
        user = _user_id(event)
        await record_denial(
            self.audit,
            "channel_not_allowed",
            what="mention",
            user=user,
            channel=channel,
            text=text[:300],
        )
        if not isinstance(user, str):
            return
        thread_ts = event.get("thread_ts")
        try:
            async with asyncio.timeout(3.0):
                await client.chat_postEphemeral(
                    channel=channel,
                    user=user,
                    text=channel_denial_text(self.policy),
                    thread_ts=thread_ts if isinstance(thread_ts, str) else None,
                )
        except (SlackApiError, TimeoutError, OSError) as exc:
            log.warning("mention_denial_not_posted", channel=channel, error=repr(exc)[:200])

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

    # --- /wizard ----------------------------------------------------------------------------
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
