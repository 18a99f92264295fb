"""A streamed answer in Slack: chat.startStream / appendStream / stopStream, exactly once.

Why: a follow-up answer takes the model 10-20 s to write; streamed, the first words are in the
thread about as soon as the model has them. Through slack-sdk's `chat_stream` helper
(`AsyncChatStream`), fed already-guarded chunks (bot/triage/chunks.py) that pass the Replier's
outward redaction too. What this module adds is what a job queue needs around it:

- **Exactly once.** The stream's ts is recorded in the job ledger under the answer's slot
  (`<slot>_ts`, state `streaming`) as soon as Slack returns it, so a reclaimed job never starts
  a second stream: it writes the answer into a buffer, closes the dead attempt's stream and
  replaces its message (chat.update) with the whole answer, under the same slot metadata.
- **Coalesced appends.** The first chunk starts the stream at once; later ones are sent at most
  every `interval_s`, so a fast model does not hit appendStream's rate limit.
- **Fallbacks, never a silent half message.** A workspace without the methods (`unknown_method`,
  `not_allowed`, `missing_scope`, `method_deprecated` …) gets the answer posted normally at the
  end, as `setStatus` falls back to a placeholder. A stream that breaks midway (Slack errors,
  ratelimited past the SDK's retries) stops appending; the finished answer then replaces the
  message (or, if even that fails, is posted anew). The final message is always complete: the
  whole guarded text, with its notes and feedback buttons as blocks at the bottom.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_chat_stream import AsyncChatStream

from bot import metrics
from bot.slack.replies import METADATA_EVENT, STATUS_UNAVAILABLE, Replier

log = structlog.get_logger(__name__)

STREAM_UNAVAILABLE = STATUS_UNAVAILABLE | {"method_deprecated", "feature_not_enabled"}
"""startStream errors that mean "no streaming here": post normally instead."""
APPEND_INTERVAL_S = 0.25
MAX_STREAM_CHARS = 11_000
"""What one streamed message carries (Slack: 12,000 per markdown call); the rest is cut with a
note — the audit record keeps the whole answer."""
CUT_NOTE = "\n\n_(answer cut here to fit one Slack message; the audit record has all of it)_"
Mode = Literal["new", "live", "resumed", "fallback", "broken"]
_TRANSPORT: tuple[type[Exception], ...] = (SlackRequestError, aiohttp.ClientError, OSError)
"""Slack did not answer (after the SDK's retries): connection reset, timeout."""
_FAILED: tuple[type[Exception], ...] = (SlackApiError, *_TRANSPORT)


class AnswerStream:
    """One answer streamed into a thread, for one job and slot."""

    def __init__(
        self,
        replier: Replier,
        job_id: str,
        slot: str,
        *,
        channel: str,
        thread_ts: str,
        user: str | None,
        interval_s: float = APPEND_INTERVAL_S,
    ) -> None:
        self.replier = replier
        self.job_id = job_id
        self.slot = slot
        self.channel = channel
        self.thread_ts = thread_ts
        self.user = user
        self.interval_s = interval_s
        self.mode: Mode = "new"
        self.ts: str | None = None
        self.stale_stream = False
        """The ledger names a stream an earlier attempt left open (closed before replacing)."""
        self.text = ""
        """Everything appended (guarded), sent or not."""
        self._sent = 0
        self._last_flush = 0.0
        self._streamer: AsyncChatStream | None = None

    @property
    def _ts_key(self) -> str:
        return f"{self.slot}_ts"

    @property
    def _state_key(self) -> str:
        return f"{self.slot}_state"

    async def open(self) -> AnswerStream:
        """Decide how this attempt answers: a new stream, or (reclaimed) the earlier message."""
        state = await self.replier.ledger.get(self.job_id)
        if ts := state.get(self._ts_key):
            self.ts, self.mode = ts, "resumed"
            self.stale_stream = state.get(self._state_key) == "streaming"
            log.info("stream_resumed", job_id=self.job_id, slot=self.slot, ts=ts)
        elif state.get(self._state_key) == "streaming":
            # Died between startStream and recording its ts: that message cannot be found
            # (a stream carries no metadata until it stops); answer with a normal post.
            self.mode = "fallback"
            log.warning("stream_start_unrecorded", job_id=self.job_id, slot=self.slot)
        return self

    async def append(self, chunk: str) -> None:
        """Add a guarded chunk; sent now if the stream is live and the interval has passed."""
        if not chunk or len(self.text) >= MAX_STREAM_CHARS:
            return
        room = MAX_STREAM_CHARS - len(self.text)
        self.text += chunk[:room] + (CUT_NOTE if len(chunk) > room else "")
        if self.mode == "new":
            await self._start()
        elif self.mode == "live" and time.monotonic() - self._last_flush >= self.interval_s:
            await self._flush()

    async def _start(self) -> None:
        await self.replier.ledger.set(self.job_id, **{self._state_key: "streaming"})
        team = await self.replier.team_id()
        try:
            self._streamer = await self.replier.client.chat_stream(
                channel=self.channel,
                thread_ts=self.thread_ts,
                recipient_user_id=self.user,
                recipient_team_id=team,
                buffer_size=1,  # the chunks are already coalesced here
            )
            await self._send(self.text)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown")
            metrics.SLACK_ERRORS.labels(error).inc()
            await self.replier.ledger.set(self.job_id, **{self._state_key: "unstreamed"})
            self.mode = "fallback"
            event = "stream_unavailable" if error in STREAM_UNAVAILABLE else "stream_start_failed"
            log.warning(event, channel=self.channel, error=error)
            return
        except _TRANSPORT as exc:
            # No answer from Slack: a stream may exist or not (the state stays `streaming`, so
            # a retry never starts one either); this attempt posts the answer normally.
            self.mode = "fallback"
            log.warning("stream_start_unanswered", channel=self.channel, error=type(exc).__name__)
            return
        assert self._streamer is not None and self._streamer.ts
        self.ts = self._streamer.ts
        await self.replier.ledger.set(
            self.job_id, **{self._ts_key: self.ts, self._state_key: "streaming"}
        )
        self.mode = "live"
        metrics.REPLIES.labels("stream_started").inc()
        log.info("stream_started", job_id=self.job_id, slot=self.slot, ts=self.ts)

    async def _send(self, upto: str) -> None:
        assert self._streamer is not None
        chunk = upto[self._sent :]
        if not chunk:
            return
        _, text = await self.replier.outward([], chunk)
        await self._streamer.append(markdown_text=text)
        self._sent = len(upto)
        self._last_flush = time.monotonic()

    async def _flush(self) -> None:
        try:
            await self._send(self.text)
        except _FAILED as exc:
            self._broke(exc)

    def _broke(self, exc: Exception) -> None:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        metrics.SLACK_ERRORS.labels(str(error or "unknown")).inc()
        log.warning("stream_broken", job_id=self.job_id, ts=self.ts, error=error)
        self.mode = "broken"

    def _metadata(self) -> dict[str, Any]:
        return {
            "event_type": METADATA_EVENT,
            "event_payload": {"job": self.job_id, "slot": self.slot},
        }

    async def close(self) -> None:
        """Stop a live or stale stream without finishing the answer (its message is about to
        be replaced by a normal answer: the model failed midway)."""
        if self.mode == "live" and self._streamer is not None:
            try:
                await self._streamer.stop(metadata=self._metadata())
            except _FAILED as exc:
                self._broke(exc)
        elif self.ts and (self.mode == "broken" or self.stale_stream):
            await self._stop_stale()
        if self.ts:
            await self.replier.ledger.set(self.job_id, **{self._state_key: "posted"})

    async def _stop_stale(self) -> None:
        assert self.ts is not None
        try:
            await self.replier.client.chat_stopStream(
                channel=self.channel, ts=self.ts, metadata=self._metadata()
            )
        except SlackApiError as exc:  # already stopped, or expired: chat.update still works
            log.info("stream_stale_stop", ts=self.ts, error=exc.response.get("error"))

    async def finish(self, blocks: list[dict[str, Any]], notification: str) -> str:
        """End the answer: the rest of the text and `blocks` (notes, feedback) on the streamed
        message, or the whole answer as a normal message. Returns its ts."""
        if self.mode == "live" and self._streamer is not None:
            try:
                rest = self.text[self._sent :]
                text = (await self.replier.outward([], rest))[1] if rest else None
                blocks_out, _ = await self.replier.outward(blocks, "")
                await self._streamer.stop(
                    markdown_text=text, blocks=blocks_out, metadata=self._metadata()
                )
            except _FAILED as exc:
                self._broke(exc)
            else:
                assert self.ts is not None
                await self.replier.ledger.set(self.job_id, **{self._state_key: "posted"})
                metrics.REPLIES.labels("streamed").inc()
                return self.ts
        await self.close()
        message = [{"type": "markdown", "text": self.text or notification}, *blocks]
        try:
            if self.ts is None:
                return await self.replier.ensure(
                    self.job_id, self.slot, channel=self.channel, thread_ts=self.thread_ts,
                    blocks=message, text=notification,
                )  # fmt: skip
            # The earlier (or broken) stream's message, whole now, with the slot's metadata
            # (an expired stream never got it from stopStream).
            await self.replier.update(
                self.channel, self.ts, message, notification, metadata=self._metadata()
            )
            return self.ts
        except SlackApiError as exc:
            if not self.ts:
                raise
            # The half-streamed message cannot be edited: post the whole answer anew.
            log.warning("stream_replace_failed", ts=self.ts, error=exc.response.get("error"))
            return await self.replier.ensure(
                self.job_id, f"final:{self.slot}", channel=self.channel,
                thread_ts=self.thread_ts, blocks=message, text=notification,
            )  # fmt: skip
