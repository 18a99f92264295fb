"""The Web API methods the local Slack answers, over a `Workspace`.

Each method checks what the real one checks (required arguments, Block Kit validity through
`validation.py`, streaming state) and answers with the real one's shape and error codes, so the
bot's slack-sdk client, retries and fallbacks run exactly as against Slack. The AI-app methods
are here too: `assistant.threads.setStatus` / `setTitle` / `setSuggestedPrompts` and the
streaming trio `chat.startStream` / `appendStream` / `stopStream`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.devtools.slack.validation import (
    BlockKitError,
    check_blocks,
    check_markdown,
    check_message,
    check_metadata,
)
from bot.devtools.slack.workspace import JSONDict, Stream, Workspace

Handler = Callable[[JSONDict, str], JSONDict]
MAX_LOADING_MESSAGES = 10
_TRUE = {"1", "true", "True", "yes"}


class SlackApiShapeError(Exception):
    """A request the real Slack would refuse; carries the Slack error code (and `errors`)."""

    def __init__(self, error: str, details: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.details = details or []


@dataclass(frozen=True)
class Identity:
    team_id: str
    team: str
    bot_user_id: str
    bot_id: str
    app_id: str


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value in _TRUE) or value == 1


def maybe_json(value: Any) -> Any:
    """Form-encoded requests carry blocks/metadata as JSON strings; JSON requests as objects."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _require(params: JSONDict, *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise SlackApiShapeError(
                "channel_not_found" if name in ("channel", "channel_id") else f"missing_{name}"
            )


def _checked(check: Callable[[], None]) -> None:
    try:
        check()
    except BlockKitError as exc:
        raise SlackApiShapeError(exc.error, exc.details) from None


class WebApi:
    """Method name → handler, bound to one workspace."""

    def __init__(
        self,
        workspace: Workspace,
        identity: Identity,
        usergroups: dict[str, list[str]],
        socket_url: Callable[[], str],
        channel_members: dict[str, list[str]] | None = None,
    ) -> None:
        self.ws = workspace
        self.me = identity
        self.usergroups = usergroups
        self.channel_members = channel_members if channel_members is not None else {}
        self.socket_url = socket_url
        self.handlers: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.startStream": self.chat_start_stream,
            "chat.appendStream": self.chat_append_stream,
            "chat.stopStream": self.chat_stop_stream,
            "assistant.threads.setStatus": self.set_status,
            "assistant.threads.setTitle": self.set_title,
            "assistant.threads.setSuggestedPrompts": self.set_suggested_prompts,
            "conversations.replies": self.conversations_replies,
            "conversations.history": self.conversations_history,
            "conversations.info": self.conversations_info,
            "conversations.members": self.conversations_members,
            "reactions.add": self.reactions_add,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "apps.connections.open": self.apps_connections_open,
        }

    def _bot_message(self, text: str) -> JSONDict:
        return {
            "type": "message",
            "user": self.me.bot_user_id,
            "bot_id": self.me.bot_id,
            "app_id": self.me.app_id,
            "team": self.me.team_id,
            "text": text,
            "ts": self.ws.next_ts(),
        }

    # --- identity -------------------------------------------------------------------------------
    def auth_test(self, params: JSONDict, token: str) -> JSONDict:
        return {
            "url": f"https://{self.me.team}.slack.com/",
            "team": self.me.team,
            "user": "wizard",
            "team_id": self.me.team_id,
            "user_id": self.me.bot_user_id,
            "bot_id": self.me.bot_id,
            "is_enterprise_install": False,
        }

    # --- messages -------------------------------------------------------------------------------
    def chat_post_message(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel")
        text = params.get("text")
        blocks = maybe_json(params.get("blocks"))
        attachments = maybe_json(params.get("attachments"))
        metadata = maybe_json(params.get("metadata"))
        if not attachments:
            _checked(lambda: check_message(text, blocks, metadata))
        channel = str(params["channel"])
        message = self._bot_message(text or "")
        for key, value in (("blocks", blocks), ("attachments", attachments)):
            if value:
                message[key] = value
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        if isinstance(metadata, dict) and metadata:
            message["metadata"] = metadata
        for flag in ("unfurl_links", "unfurl_media", "reply_broadcast", "username"):
            if flag in params:
                message[flag] = params[flag]
        self.ws.store(channel, message)
        return {"channel": channel, "ts": message["ts"], "message": self.ws.public(message)}

    def chat_update(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel", "ts")
        channel, ts = str(params["channel"]), str(params["ts"])
        message = self.ws.find(channel, ts)
        if message is None:
            raise SlackApiShapeError("message_not_found")
        blocks = maybe_json(params.get("blocks"))
        metadata = maybe_json(params.get("metadata"))
        _checked(lambda: check_blocks(blocks))
        _checked(lambda: check_metadata(metadata))
        if "text" in params:
            message["text"] = params["text"] or ""
        if "blocks" in params:
            message["blocks"] = blocks
        if "attachments" in params:
            message["attachments"] = maybe_json(params["attachments"])
        if isinstance(metadata, dict) and metadata:
            message["metadata"] = metadata
        message["edited"] = {"user": self.me.bot_user_id, "ts": self.ws.next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": self.ws.public(message),
        }

    def chat_post_ephemeral(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel", "user")
        blocks = maybe_json(params.get("blocks"))
        _checked(lambda: check_message(params.get("text"), blocks))
        return {"message_ts": self.ws.next_ts()}

    # --- streaming ------------------------------------------------------------------------------
    def chat_start_stream(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel", "thread_ts")
        channel = str(params["channel"])
        if not channel.startswith("D") and not (
            params.get("recipient_user_id") and params.get("recipient_team_id")
        ):
            # "Required when streaming to channels" (chat.startStream reference).
            raise SlackApiShapeError("invalid_arguments", ["recipient_user_id/team_id required"])
        initial = self._chunk_text(params)
        message = self._bot_message(initial)
        message["thread_ts"] = str(params["thread_ts"])
        self.ws.store(channel, message)
        stream = Stream(channel, message["ts"])
        if initial:
            stream.chunks.append((time.time(), initial))
        self.ws.streams[(channel, message["ts"])] = stream
        return {"channel": channel, "ts": message["ts"]}

    def _stream(self, params: JSONDict) -> tuple[Stream, JSONDict]:
        _require(params, "channel", "ts")
        key = (str(params["channel"]), str(params["ts"]))
        message = self.ws.find(*key)
        stream = self.ws.streams.get(key)
        if message is None or stream is None:
            raise SlackApiShapeError("message_not_found")
        if stream.state != "streaming":
            raise SlackApiShapeError("message_not_in_streaming_state")
        return stream, message

    @staticmethod
    def _chunk_text(params: JSONDict) -> str:
        """`markdown_text` plus the text of any `markdown_text` chunks, validated."""
        text = params.get("markdown_text")
        _checked(lambda: check_markdown(text))
        out = str(text or "")
        chunks = maybe_json(params.get("chunks")) or []
        if not isinstance(chunks, list):
            raise SlackApiShapeError("invalid_chunks")
        for chunk in chunks:
            if not isinstance(chunk, dict) or "type" not in chunk:
                raise SlackApiShapeError("invalid_chunks")
            if chunk["type"] == "markdown_text":
                _checked(lambda c=chunk: check_markdown(c.get("text")))  # type: ignore[misc]
                out += str(chunk.get("text") or "")
        return out

    def chat_append_stream(self, params: JSONDict, token: str) -> JSONDict:
        stream, message = self._stream(params)
        text = self._chunk_text(params)
        if not text:
            raise SlackApiShapeError("missing_markdown_text")
        stream.chunks.append((time.time(), text))
        message["text"] = stream.text
        return {"channel": stream.channel, "ts": stream.ts}

    def chat_stop_stream(self, params: JSONDict, token: str) -> JSONDict:
        stream, message = self._stream(params)
        text = self._chunk_text(params)
        blocks = maybe_json(params.get("blocks"))
        metadata = maybe_json(params.get("metadata"))
        _checked(lambda: check_blocks(blocks))
        _checked(lambda: check_metadata(metadata))
        if text:
            stream.chunks.append((time.time(), text))
        stream.state = "completed"
        message["text"] = stream.text
        # The finished message: the streamed markdown, then the blocks given at the stop.
        message["blocks"] = [{"type": "markdown", "text": stream.text}, *(blocks or [])]
        if isinstance(metadata, dict) and metadata:
            message["metadata"] = metadata
        return {"channel": stream.channel, "ts": stream.ts, "message": self.ws.public(message)}

    # --- assistant threads ----------------------------------------------------------------------
    def set_status(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel_id", "thread_ts")
        if "status" not in params:
            raise SlackApiShapeError("missing_status")
        loading = maybe_json(params.get("loading_messages")) or []
        if not isinstance(loading, list) or len(loading) > MAX_LOADING_MESSAGES:
            raise SlackApiShapeError("invalid_arguments", ["loading_messages: at most 10"])
        channel, thread_ts = str(params["channel_id"]), str(params["thread_ts"])
        if self.ws.find(channel, thread_ts) is None:
            raise SlackApiShapeError("invalid_thread_ts")
        self.ws.set_status(channel, thread_ts, str(params["status"]), tuple(map(str, loading)))
        return {}

    def set_title(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel_id", "thread_ts", "title")
        self.ws.titles[(str(params["channel_id"]), str(params["thread_ts"]))] = str(params["title"])
        return {}

    def set_suggested_prompts(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel_id")
        prompts = maybe_json(params.get("prompts"))
        if not isinstance(prompts, list) or not prompts or len(prompts) > 4:
            raise SlackApiShapeError("invalid_arguments", ["prompts: 1 to 4 items"])
        for prompt in prompts:
            if not isinstance(prompt, dict) or not prompt.get("title") or not prompt.get("message"):
                raise SlackApiShapeError("invalid_arguments", ["each prompt needs title, message"])
        thread = params.get("thread_ts")
        self.ws.suggested_prompts[(str(params["channel_id"]), str(thread) if thread else None)] = {
            "title": params.get("title"),
            "prompts": prompts,
        }
        return {}

    # --- reading --------------------------------------------------------------------------------
    def conversations_replies(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel", "ts")
        channel, ts = str(params["channel"]), str(params["ts"])
        thread = self.ws.replies(channel, ts)
        if not thread:
            raise SlackApiShapeError("thread_not_found")
        with_meta = truthy(params.get("include_all_metadata"))
        limit = int(params.get("limit") or 1000)
        messages = [self.ws.public(m, metadata=with_meta) for m in thread[:limit]]
        return {"messages": messages, "has_more": len(thread) > limit}

    def conversations_history(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel")
        with_meta = truthy(params.get("include_all_metadata"))
        limit = int(params.get("limit") or 100)
        top = list(reversed(self.ws.messages(str(params["channel"]))))  # newest first
        messages = [self.ws.public(m, metadata=with_meta) for m in top[:limit]]
        return {"messages": messages, "has_more": len(top) > limit}

    def conversations_info(self, params: JSONDict, token: str) -> JSONDict:
        """Every well-formed id is a channel here; the bot is in all but `ws.not_member`."""
        _require(params, "channel")
        channel = str(params["channel"])
        if channel[:1] not in ("C", "G", "D") or not channel.isalnum():
            raise SlackApiShapeError("channel_not_found")
        return {
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": channel.startswith("C"),
                "is_private": channel.startswith("G"),
                "is_member": channel not in self.ws.not_member,
            }
        }

    def conversations_members(self, params: JSONDict, token: str) -> JSONDict:
        """Members of a channel set in `channel_members`, a page at a time (`limit`, `cursor`:
        the offset), as Slack pages them; any other channel is `channel_not_found`."""
        _require(params, "channel")
        members = self.channel_members.get(str(params["channel"]))
        if members is None:
            raise SlackApiShapeError("channel_not_found")
        cursor = str(params.get("cursor") or "0")
        start = int(cursor) if cursor.isdigit() else 0
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        page = members[start : start + limit]
        more = start + limit < len(members)
        return {
            "members": list(page),
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def reactions_add(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "channel", "timestamp", "name")
        message = self.ws.find(str(params["channel"]), str(params["timestamp"]))
        if message is None:
            raise SlackApiShapeError("message_not_found")
        reactions: list[JSONDict] = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == params["name"]:
                if self.me.bot_user_id in reaction["users"]:
                    raise SlackApiShapeError("already_reacted")
                reaction["users"].append(self.me.bot_user_id)
                reaction["count"] += 1
                return {}
        reactions.append({"name": params["name"], "users": [self.me.bot_user_id], "count": 1})
        return {}

    def users_info(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "user")
        user = str(params["user"])
        return {
            "user": {
                "id": user,
                "team_id": self.me.team_id,
                "name": user.lower(),
                "real_name": f"User {user}",
                "is_bot": user == self.me.bot_user_id,
                "tz": "Europe/London",
                "profile": {"display_name": user.lower(), "real_name": f"User {user}"},
            }
        }

    def usergroups_users_list(self, params: JSONDict, token: str) -> JSONDict:
        _require(params, "usergroup")
        members = self.usergroups.get(str(params["usergroup"]))
        if members is None:
            raise SlackApiShapeError("no_such_subteam")
        return {"users": list(members)}

    def apps_connections_open(self, params: JSONDict, token: str) -> JSONDict:
        if not token.startswith("xapp-"):
            raise SlackApiShapeError("not_allowed_token_type")
        return {"url": f"{self.socket_url()}?ticket={uuid.uuid4().hex}&app_id={self.me.app_id}"}
