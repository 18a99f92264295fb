"""Slack listeners: classify, enqueue, ack. Nothing slow happens here.

This module registers every handler: messages and mentions are classified here; `/wizard` is
`bot/slack/commands.py`, the buttons (incident actions, feedback) `bot/slack/actions.py`.

Bolt has already verified the request signature (and answered url_verification/ssl_check). Each
listener decides what kind of job an event is, hands it to `Intake` (dedup + durable enqueue in
one atomic step) and returns, so the ack goes back to Slack in milliseconds. The app runs with
`process_before_response=True`, so the ack is sent only after the job is durably queued: if Redis
is down, Slack sees an error and retries instead of the alert vanishing.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.registry import (
    IGNORED_SUBTYPES,
    edited_message,
    is_from_integration,
    parse_message,
)
from bot.audit.log import AuditLog
from bot.context.store import ContextStore
from bot.door import Door
from bot.freeze import FreezeStore
from bot.incidents.store import IncidentStore
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import AlertJob, FollowupJob, QuestionJob
from bot.render.feedback import FEEDBACK_ACTIONS
from bot.render.incident import ACTIONS
from bot.slack.access import AccessPolicy, TeamGate, channel_denial_text, record_denial
from bot.slack.actions import ButtonActions
from bot.slack.commands import MAX_QUESTION_CHARS, WizardCommand
from bot.triage.runbooks import RunbookCatalog

log = structlog.get_logger(__name__)


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
    """The listeners, holding what they need to classify (channels, store), the `/wizard` and
    button handlers they register, and the access policy: foreign teams are stopped by
    `TeamGate` before any listener runs; `/wizard` and new mentions outside
    `WIZARD_COMMAND_CHANNELS` are refused, politely and audited. Follow-ups in threads the wizard
    already answers, and alert triage, are not channel-gated."""

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
        self.alert_channels = alert_channels
        self.command = WizardCommand(
            intake=intake,
            door=self.door,
            policy=self.policy,
            store=store,
            catalog=catalog,
            runbook_base_url=runbook_base_url,
            audit=audit,
            freezes=freezes,
            incidents=incidents,
        )
        self.buttons = ButtonActions(intake=intake, policy=self.policy, audit=audit)

    def register(self, app: AsyncApp) -> None:
        TeamGate(self.policy, self.audit).register(app)
        app.event("message")(self.on_message)
        app.event("app_mention")(self.on_mention)
        app.command("/wizard")(self.command.on_command)
        for action_id in ACTIONS:
            app.action(action_id)(self.buttons.on_incident_action)
        for action_id in FEEDBACK_ACTIONS:
            app.action(action_id)(self.buttons.on_feedback)
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
            # An integration's top-level post is queued unparsed: the fast job parses it (and
            # drops what is no alert), so a storm's acks pay for no parsing. A person's post is
            # parsed here: if it is no alert, its `app_mention` twin (same channel and ts, one
            # dedup key) must still get through.
            posted_by_tool = not in_thread and is_from_integration(event)
            if posted_by_tool or parse_message(event):
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
