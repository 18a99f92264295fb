"""Posting and updating the bot's messages in Slack, exactly once per job and slot.

Every message carries Slack message metadata naming its job and slot. Before posting, the ledger
says whether this job already posted; if a previous attempt died between "posting" and recording
the ts, the thread is searched for the metadata. So a reclaimed job finds and edits its earlier
message instead of posting a second one. All text passes the redaction function on the way out.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import metrics
from bot.context.pseudonyms import Pseudonyms
from bot.redact import redact, redact_obj
from bot.render.answer import RenderedAnswer
from bot.store.ledger import JobLedger

log = structlog.get_logger(__name__)

METADATA_EVENT = "wizard_reply"
THINKING = "is thinking…"
TRIAGE_LOADING = (
    "Reading the alert and its incident…",
    "Checking deploy history and past incidents…",
    "Measuring live evidence…",
    "Asking the wizard for immediate actions and a rollback plan…",
)
FOLLOWUP_LOADING = ("Reading the thread…", "Thinking about your question…")
STATUS_UNAVAILABLE = frozenset(
    {"unknown_method", "not_allowed", "not_allowed_token_type", "missing_scope", "no_permission"}
)
"""setStatus errors that mean "this workspace or token has no thinking status": fall back."""


class Replier:
    """The bot's only way to write to Slack."""

    def __init__(
        self, client: AsyncWebClient, ledger: JobLedger, pseudonyms: Pseudonyms | None = None
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.pseudonyms = pseudonyms
        self._team_id: str | None = None

    async def team_id(self) -> str | None:
        """The bot's team (auth.test, once): a streamed reply's `recipient_team_id`."""
        if self._team_id is None:
            try:
                self._team_id = str((await self.client.auth_test()).get("team_id") or "") or None
            except SlackApiError as exc:
                log.warning("auth_test_failed", error=exc.response.get("error"))
        return self._team_id

    async def outward(
        self, blocks: list[dict[str, Any]], text: str
    ) -> tuple[list[dict[str, Any]], str]:
        """What leaves for Slack (also each streamed chunk, bot/slack/streaming.py)."""
        return await self._outward(blocks, text)

    async def _outward(
        self, blocks: list[dict[str, Any]], text: str
    ) -> tuple[list[dict[str, Any]], str]:
        """Secrets masked; trading-identifier pseudonyms turned back into the real values,
        because the people in the channel need them (the model and the audit never see them)."""
        blocks = redact_obj(blocks, trading=False)
        text = redact(text, trading=False)
        if self.pseudonyms is not None:
            blocks = await self.pseudonyms.reveal_obj(blocks)
            text = await self.pseudonyms.reveal(text)
        return blocks, text

    async def ensure(
        self,
        job_id: str,
        slot: str,
        *,
        channel: str,
        thread_ts: str | None,
        blocks: list[dict[str, Any]],
        text: str,
    ) -> str:
        """Post (once) the job's message for `slot`; return its ts, found or new."""
        state = await self.ledger.get(job_id)
        if ts := state.get(f"{slot}_ts"):
            await self.update(channel, ts, blocks, text)
            return ts
        if state.get(f"{slot}_state") == "posting":
            found = await self._find(job_id, slot, channel, thread_ts)
            if found:
                log.warning("reply_recovered", job_id=job_id, slot=slot, ts=found)
                await self.ledger.set(job_id, **{f"{slot}_ts": found, f"{slot}_state": "posted"})
                await self.update(channel, found, blocks, text)
                return found
        await self.ledger.set(job_id, **{f"{slot}_state": "posting"})
        blocks, text = await self._outward(blocks, text)
        response = await self._call(
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=thread_ts,
            blocks=blocks,
            text=text,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"job": job_id, "slot": slot}},
        )
        ts = str(response["ts"])
        metrics.REPLIES.labels("posted").inc()
        await self.ledger.set(job_id, **{f"{slot}_ts": ts, f"{slot}_state": "posted"})
        log.info("reply_posted", job_id=job_id, slot=slot, channel=channel, ts=ts)
        return ts

    async def thinking(
        self, channel: str, thread_ts: str, loading: tuple[str, ...] = TRIAGE_LOADING
    ) -> bool:
        """Show "is thinking…" (with rotating `loading` messages) under the thread while the
        answer is worked out, instead of posting a placeholder that would be the message that
        notifies. Slack clears it when the bot replies in the thread (or after two minutes).
        False when Slack offers no status here (old workspace, token without chat:write…): the
        caller then posts its placeholder as before. Never raises for a missing status."""
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=channel,
                thread_ts=thread_ts,
                status=THINKING,
                loading_messages=list(loading[:10]),
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown")
            metrics.SLACK_ERRORS.labels(error).inc()
            log.info("thinking_status_unavailable", channel=channel, error=error)
            if error not in STATUS_UNAVAILABLE:
                log.warning("thinking_status_failed", channel=channel, error=error)
            return False
        metrics.REPLIES.labels("status").inc()
        return True

    async def done_thinking(self, channel: str, thread_ts: str) -> None:
        """Clear the status when no reply will clear it (the answer failed to post)."""
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=channel, thread_ts=thread_ts, status=""
            )
        except SlackApiError as exc:
            log.info("thinking_status_not_cleared", error=exc.response.get("error"))

    async def pane(
        self,
        channel: str,
        thread_ts: str,
        *,
        title: str | None = None,
        prompts: list[dict[str, str]] | None = None,
        prompts_title: str | None = None,
    ) -> bool:
        """Dress an assistant-pane thread: its title (`assistant.threads.setTitle`) or its
        suggested prompts (`setSuggestedPrompts`, title and message each), passed through the
        same outward redaction as messages. Cosmetic, so never raises: False when Slack refused
        (a DM that is no assistant thread, a workspace without the methods)."""
        try:
            if title is not None:
                _, shown_title = await self._outward([], title)
                await self._call(
                    self.client.assistant_threads_setTitle,
                    channel_id=channel,
                    thread_ts=thread_ts,
                    title=shown_title,
                )
            if prompts:
                shown, heading = await self._outward(list(prompts), prompts_title or "")
                await self._call(
                    self.client.assistant_threads_setSuggestedPrompts,
                    channel_id=channel,
                    thread_ts=thread_ts,
                    prompts=shown,
                    title=heading or None,
                )
        except SlackApiError as exc:
            log.info("assistant_pane_not_set", channel=channel, error=exc.response.get("error"))
            return False
        metrics.REPLIES.labels("pane").inc()
        return True

    async def post_answer(
        self,
        job_id: str,
        slot: str,
        *,
        channel: str,
        thread_ts: str | None,
        answer: RenderedAnswer,
    ) -> str:
        """Post (once each) an answer's first screen under `slot` and its full plan right after
        it in the same thread (`plan:<slot>`); returns the first screen's ts, which the thread
        and the incident point at."""
        blocks, text = answer.first
        ts = await self.ensure(
            job_id, slot, channel=channel, thread_ts=thread_ts, blocks=blocks, text=text
        )
        blocks, text = answer.plan
        await self.ensure(
            job_id, f"plan:{slot}", channel=channel, thread_ts=thread_ts or ts, blocks=blocks,
            text=text,
        )  # fmt: skip
        return ts

    @staticmethod
    async def _call(method: Any, **kwargs: Any) -> Any:
        """Call a Web API method, counting the errors Slack returns (the SDK already retried)."""
        try:
            return await method(**kwargs)
        except SlackApiError as exc:
            metrics.SLACK_ERRORS.labels(str(exc.response.get("error") or "unknown")).inc()
            raise

    async def update(
        self,
        channel: str,
        ts: str,
        blocks: list[dict[str, Any]],
        text: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        blocks, text = await self._outward(blocks, text)
        await self._call(
            self.client.chat_update, channel=channel, ts=ts, blocks=blocks, text=text,
            metadata=metadata,
        )  # fmt: skip
        metrics.REPLIES.labels("updated").inc()

    async def _find(
        self, job_id: str, slot: str, channel: str, thread_ts: str | None
    ) -> str | None:
        """Look for a message this job posted before its worker died."""
        try:
            if thread_ts:
                response = await self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
                )
            else:
                response = await self.client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=100
                )
        except SlackApiError as exc:
            log.warning("reply_lookup_failed", job_id=job_id, error=exc.response.get("error"))
            return None
        messages: list[dict[str, Any]] = response.get("messages") or []
        for message in messages:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and payload.get("job") == job_id
                and payload.get("slot") == slot
            ):
                return str(message["ts"])
        return None

    async def respond(
        self,
        response_url: str,
        blocks: list[dict[str, Any]],
        text: str,
        *,
        ephemeral: bool = False,
    ) -> None:
        """Answer through a command's or button's response_url: visible to the channel (works
        where the bot is no member), or only to the person who asked (`ephemeral`)."""
        blocks, text = await self._outward(blocks, text)
        webhook = AsyncWebhookClient(response_url, session=self.client.session)
        await webhook.send(
            text=text,
            blocks=blocks,
            response_type="ephemeral" if ephemeral else "in_channel",
            replace_original=False,
        )
        metrics.REPLIES.labels("response_url").inc()
