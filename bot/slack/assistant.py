"""DMs to the bot and Slack's assistant pane: classify, enqueue, ack — like every listener.

Bolt's `AsyncAssistant` middleware routes the pane's events (`assistant_thread_started`,
`assistant_thread_context_changed`, and the user's messages in an assistant thread, which Slack
sends as `message.im` with a `thread_ts`); a DM's top-level message comes through `on_dm`.
Nothing here writes to Slack or waits on it: the suggested prompts, the thread title, the access
check with its refusal, "is thinking…" and the answer all happen in jobs
(`bot/pipeline/conversations.py`, then the analysis stage), so the ack goes back in
milliseconds and a retried event is deduplicated by `Intake` like any other.

Which job a message becomes follows the thread's memory (`ThreadInfo`): a pane thread that was
just opened (kind "assistant") or an unknown thread → a `QuestionJob` answered in that thread; a
thread the wizard already answered → a `FollowupJob` that carries the conversation so far. The
bot's own messages never become jobs (Bolt ignores self events; the pane's bot-message route
is acked here and dropped), so replies cannot loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp, AsyncAssistant, AsyncBoltRequest
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.payload_utils import (
    is_assistant_event,
    is_other_message_sub_event_in_assistant_thread,
)
from slack_bolt.response import BoltResponse

from bot.context.store import ContextStore, ThreadInfo
from bot.pipeline.intake import Intake
from bot.pipeline.jobs import AssistantThreadJob, FollowupJob, QuestionJob, Source
from bot.text import clean_text

log = structlog.get_logger(__name__)

MAX_QUESTION_CHARS = 4000


def is_direct_message(event: dict[str, Any]) -> bool:
    """A person's own message in a DM with the bot (not an edit, not a bot's post)."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in (None, "file_share")
        and not event.get("bot_id")
        and isinstance(event.get("user"), str)
    )


class PaneOnly(AsyncMiddleware):
    """Hands Bolt's assistant middleware only the pane's events (Bolt's own tests of what is
    one); every other request skips it. Run on every request, its four listener groups cost
    an alert's ack as much as the listener that queues the alert."""

    def __init__(self, assistant: AsyncAssistant) -> None:
        self.assistant = assistant

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt's keyword
    ) -> BoltResponse | None:
        body = req.body
        if is_assistant_event(body) or is_other_message_sub_event_in_assistant_thread(body):
            return await self.assistant.async_process(req=req, resp=resp, next=next)
        return await next()


class PrivateChat:
    """The DM and assistant-pane listeners."""

    def __init__(self, *, intake: Intake, store: ContextStore) -> None:
        self.intake = intake
        self.store = store

    def assistant(self) -> AsyncAssistant:
        """The Bolt middleware for the pane's events."""
        assistant = AsyncAssistant()
        assistant.thread_started(self.on_thread_started)
        assistant.thread_context_changed(self.on_context_changed)
        assistant.user_message(self.on_thread_message)
        assistant.bot_message(self.on_own_message)
        return assistant

    def register_dm(self, app: AsyncApp) -> None:
        """The top-level DM listener: register it before the channel listeners' catch-all
        `message` listener (Bolt runs the first listener that matches)."""

        async def direct(event: dict[str, Any]) -> bool:
            return is_direct_message(event) and not event.get("thread_ts")

        app.event("message", matchers=[direct])(self.on_dm)

    def register(self, app: AsyncApp) -> None:
        """The pane's middleware: register it after the team gate, so another workspace's
        pane events are refused before they reach it (middleware runs in order)."""
        app.middleware(PaneOnly(self.assistant()))

    async def on_thread_started(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        thread = event.get("assistant_thread")
        thread = thread if isinstance(thread, dict) else {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not isinstance(channel, str) or not isinstance(thread_ts, str):
            log.warning("assistant_thread_malformed", event_id=body.get("event_id"))
            return
        user = thread.get("user_id")
        context = thread.get("context")
        viewing = context.get("channel_id") if isinstance(context, dict) else None
        # Remembered now, before anyone can type: the first message in it is a pane question.
        await self.store.set_thread(
            ThreadInfo(channel=channel, thread_ts=thread_ts, kind="assistant", source="assistant")
        )
        await self.intake.submit_slack(
            AssistantThreadJob(
                id=f"ast:{channel}:{thread_ts}",
                channel=channel,
                thread_ts=thread_ts,
                user=user if isinstance(user, str) else None,
                context_channel=viewing if isinstance(viewing, str) else None,
                event_id=body.get("event_id"),
            )
        )

    async def on_context_changed(self) -> None:
        """The user moved to another channel with the pane open: the answers do not depend on
        it, so there is nothing to save (Bolt's default would write it to Slack)."""

    async def on_own_message(self) -> None:
        """The bot's own reply in a pane thread: acked, never answered."""

    async def on_thread_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """A person's message in a pane thread, or in a DM thread."""
        if is_direct_message(event):
            await self._message(body, event)

    async def on_dm(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """A top-level DM (outside the pane): answered in its own thread."""
        if is_direct_message(event):
            await self._message(body, event)

    async def _message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        if not isinstance(channel, str) or not isinstance(ts, str) or not isinstance(user, str):
            return
        text = clean_text(str(event.get("text") or "")).strip()[:MAX_QUESTION_CHARS]
        if not text:
            return
        thread_ts = event.get("thread_ts")
        thread_ts = thread_ts if isinstance(thread_ts, str) and thread_ts != ts else None
        info = await self.store.get_thread(channel, thread_ts) if thread_ts else None
        source: Source = "assistant" if info and info.source == "assistant" else "dm"
        job_id, event_id = f"msg:{channel}:{ts}", body.get("event_id")
        if thread_ts and info is not None and info.kind != "assistant":
            await self.intake.submit_slack(
                FollowupJob(
                    id=job_id,
                    channel=channel,
                    ts=ts,
                    thread_ts=thread_ts,
                    user=user,
                    text=text,
                    source=source,
                    event_id=event_id,
                )
            )
            return
        await self.intake.submit_slack(
            QuestionJob(
                id=job_id,
                channel=channel,
                ts=ts,
                thread_ts=thread_ts or ts,
                user=user,
                text=text,
                source=source,
                event_id=event_id,
            )
        )
