"""The local Slack's state: channels as ordered message lists with threads, and the AI-app state
(assistant thread statuses, titles, suggested prompts, live streams).

Plain data and the few rules Slack applies to it (a reply bumps its parent's `reply_count`, a
bot message in a thread clears the bot's "is thinking…" status), so the Web API methods in
`web_api.py` stay one-liners over it and tests can read it directly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class StatusChange:
    """One `assistant.threads.setStatus` (or Slack's own clearing of it when the bot posts)."""

    at: float
    channel: str
    thread_ts: str
    status: str
    loading_messages: tuple[str, ...] = ()
    cleared_by_post: bool = False


@dataclass
class Stream:
    """A message being streamed with chat.startStream / appendStream / stopStream."""

    channel: str
    ts: str
    chunks: list[tuple[float, str]] = field(default_factory=list)
    state: str = "streaming"

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.chunks)


def copy(obj: Any) -> Any:
    """A deep, JSON-shaped copy: what a client would get back over the wire."""
    return json.loads(json.dumps(obj))


class Workspace:
    """Messages, threads and AI-app state of one team."""

    def __init__(self, bot_user_id: str) -> None:
        self.bot_user_id = bot_user_id
        self.channels: dict[str, list[JSONDict]] = {}
        self.statuses: list[StatusChange] = []
        self.titles: dict[tuple[str, str], str] = {}
        self.suggested_prompts: dict[tuple[str, str | None], JSONDict] = {}
        self.streams: dict[tuple[str, str], Stream] = {}
        self.not_member: set[str] = set()
        """Channels the bot was never invited to (`conversations.info` says is_member false)."""
        self._last_ts_micro = 0

    def next_ts(self) -> str:
        micro = max(time.time_ns() // 1000, self._last_ts_micro + 100)
        self._last_ts_micro = micro
        return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"

    def find(self, channel: str, ts: str) -> JSONDict | None:
        for message in self.channels.get(channel, []):
            if message["ts"] == ts:
                return message
        return None

    @staticmethod
    def public(message: JSONDict, *, metadata: bool = True) -> JSONDict:
        out = {k: v for k, v in message.items() if k != "channel"}
        if not metadata:
            out.pop("metadata", None)
        result: JSONDict = copy(out)
        return result

    def messages(self, channel: str, *, include_replies: bool = False) -> list[JSONDict]:
        out = []
        for message in self.channels.get(channel, []):
            thread_ts = message.get("thread_ts")
            if include_replies or thread_ts is None or thread_ts == message["ts"]:
                out.append(copy(message))
        return out

    def replies(self, channel: str, thread_ts: str) -> list[JSONDict]:
        if self.find(channel, thread_ts) is None:
            return []
        return [
            copy(m)
            for m in self.channels.get(channel, [])
            if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
        ]

    def store(self, channel: str, message: JSONDict) -> JSONDict:
        message["channel"] = channel
        self.channels.setdefault(channel, []).append(message)
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            parent = self.find(channel, thread_ts)
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                parent["latest_reply"] = message["ts"]
            if message.get("user") == self.bot_user_id:
                self._clear_status(channel, str(thread_ts))
        return message

    # --- assistant thread status ----------------------------------------------------------------
    def status_of(self, channel: str, thread_ts: str) -> str:
        """The bot's current status in a thread ("" when none is shown)."""
        for change in reversed(self.statuses):
            if change.channel == channel and change.thread_ts == thread_ts:
                return change.status
        return ""

    def set_status(
        self, channel: str, thread_ts: str, status: str, loading: tuple[str, ...]
    ) -> None:
        self.statuses.append(StatusChange(time.time(), channel, thread_ts, status, loading))

    def _clear_status(self, channel: str, thread_ts: str) -> None:
        """Slack clears the status when the app replies in the thread."""
        if self.status_of(channel, thread_ts):
            self.statuses.append(
                StatusChange(time.time(), channel, thread_ts, "", cleared_by_post=True)
            )
