"""A local, in-memory Slack: the Web API methods the bot uses, response_url and Socket Mode.

Why it exists: `wizard demo` must show the whole bot working without a Slack workspace, and the
tests must exercise the *real* `slack_sdk` clients (retry handlers, Socket Mode reconnects, JSON vs
form encoding) rather than mocks of them. So this is a small aiohttp server that speaks Slack's
wire protocol; clients reach it only through `AsyncWebClient(base_url=sandbox.base_url)` and the
WebSocket URL it hands out from `apps.connections.open`. It lives in the package (not in tests)
because the demo ships with the bot.

What it models, deliberately small: channels as ordered message lists with threads, message
metadata (returned only with `include_all_metadata`, like Slack), failure injection (429 with
`Retry-After`, 5xx, `ok: false` errors, delays, reset connections) and Socket Mode envelopes
with acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import WSMsgType, web

log = structlog.get_logger(__name__)

JSONDict = dict[str, Any]
OnPost = Callable[[str, JSONDict], Awaitable[None] | None]
Handler = Callable[[JSONDict, str], JSONDict]

_TRUE = {"1", "true", "True", "yes"}


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call as the sandbox received it."""

    method: str
    params: JSONDict
    at: float
    token: str | None = None
    http_verb: str = "POST"


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    times: int


@dataclass
class _SocketConn:
    ws: web.WebSocketResponse
    request: web.Request
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class SlackApiShapeError(Exception):
    """A request the real Slack would refuse; carries the Slack error code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value in _TRUE) or value == 1


def _maybe_json(value: Any) -> Any:
    """Form-encoded requests carry blocks/metadata as JSON strings; JSON requests as objects."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class SlackSandbox:
    """An in-memory Slack workspace served over HTTP on 127.0.0.1 (random free port)."""

    def __init__(
        self,
        *,
        team_id: str = "T0WIZ",
        team: str = "wizard-sandbox",
        bot_user_id: str = "U0WIZARD",
        bot_id: str = "B0WIZARD",
        app_id: str = "A0WIZ",
        on_post: OnPost | None = None,
    ) -> None:
        self.team_id = team_id
        self.team = team
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.on_post = on_post
        self.calls: list[RecordedCall] = []
        self.responses: dict[str, list[JSONDict]] = {}
        self.acks: dict[str, JSONDict] = {}
        self.connections_opened = 0
        self.usergroups: dict[str, list[str]] = {}
        """User-group id → member user ids, served by `usergroups.users.list`."""
        self._channels: dict[str, list[JSONDict]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._drops: dict[str, int] = {}
        self._sockets: list[_SocketConn] = []
        self._last_ts_micro = 0
        self._ack_events: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "reactions.add": self._reactions_add,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "apps.connections.open": self._apps_connections_open,
        }

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        log.debug("slack_sandbox_started", base_url=self.base_url)

    async def stop(self) -> None:
        await self.drop_connections(abrupt=False)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackSandbox:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SlackSandbox.start() was not awaited")
        return self._port

    @property
    def base_url(self) -> str:
        """What `AsyncWebClient(base_url=...)` needs (it appends the method name to it)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, rid: str) -> str:
        """A slash command `response_url` whose JSON bodies land in `responses[rid]`."""
        return f"http://127.0.0.1:{self.port}/response/{rid}"

    # --- failure injection ----------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail.

        status 429 → `ratelimited` with a `Retry-After` header (default 1); other statuses ≥ 400
        → that status with `ok: false`; status 200 needs `error` (e.g. `not_in_channel`).
        """
        if error is None:
            error = (
                "ratelimited" if status == 429 else ("internal_error" if status >= 500 else None)
            )
        if error is None:
            raise ValueError("fail_next(status=200) needs an error code")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.setdefault(method, []).append(_Failure(status, error, retry_after, times))

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """Reset the TCP connection of the next `times` calls of `method` before answering (the
        call is not executed), as a load balancer or a network blip would: the client sees a
        connection error, not an HTTP status."""
        self._drops[method] = self._drops.get(method, 0) + times

    def delay(self, method: str, seconds: float) -> None:
        """Every call of `method` waits `seconds` before answering (0 removes the delay)."""
        if seconds <= 0:
            self._delays.pop(method, None)
        else:
            self._delays[method] = seconds

    def reset_failures(self) -> None:
        self._failures.clear()
        self._delays.clear()
        self._drops.clear()

    # --- state ----------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        micro = max(time.time_ns() // 1000, self._last_ts_micro + 100)
        self._last_ts_micro = micro
        return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"

    def _find(self, channel: str, ts: str) -> JSONDict | None:
        for message in self._channels.get(channel, []):
            if message["ts"] == ts:
                return message
        return None

    @staticmethod
    def _public(message: JSONDict, *, metadata: bool = True) -> JSONDict:
        out = {k: v for k, v in message.items() if k != "channel"}
        if not metadata:
            out.pop("metadata", None)
        return json.loads(json.dumps(out))

    def messages(self, channel: str, *, include_replies: bool = False) -> list[JSONDict]:
        """Messages in `channel`, oldest first: top level only, or every message."""
        out = []
        for message in self._channels.get(channel, []):
            thread_ts = message.get("thread_ts")
            if include_replies or thread_ts is None or thread_ts == message["ts"]:
                out.append(json.loads(json.dumps(message)))
        return out

    def replies(self, channel: str, thread_ts: str) -> list[JSONDict]:
        """The parent and its replies, oldest first ([] when no such parent exists)."""
        if self._find(channel, thread_ts) is None:
            return []
        return [
            json.loads(json.dumps(m))
            for m in self._channels.get(channel, [])
            if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
        ]

    def _store(self, channel: str, message: JSONDict) -> JSONDict:
        message["channel"] = channel
        self._channels.setdefault(channel, []).append(message)
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            parent = self._find(channel, thread_ts)
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                parent["latest_reply"] = message["ts"]
        return message

    def inject_message(self, channel: str, message: JSONDict) -> JSONDict:
        """Someone else (a human, an integration) posts `message`; returns it as an event.

        The result has `channel`, `ts` and `event_ts` set, ready to be wrapped in an Events API
        envelope or a Socket Mode envelope.
        """
        stored = dict(json.loads(json.dumps(message)))
        stored.setdefault("type", "message")
        stored["ts"] = self._next_ts()
        stored = self._store(channel, stored)
        return {**json.loads(json.dumps(stored)), "event_ts": stored["ts"]}

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,
    ) -> None:
        """Poll `predicate` (e.g. over `calls` or `messages`) until true or TimeoutError."""
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - predicates read arbitrary state
                await asyncio.sleep(0.01)

    # --- HTTP: Web API --------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> JSONDict:
        params: JSONDict = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            raw = await request.read()
            if raw:
                if request.content_type == "application/json":
                    body = json.loads(raw)
                    if isinstance(body, dict):
                        params.update(body)
                else:
                    params.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        return params

    @staticmethod
    def _token(request: web.Request, params: JSONDict) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :].strip()
        token = params.pop("token", None)
        return str(token) if token else None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_json"})
        token = self._token(request, params)
        self.calls.append(RecordedCall(method, params, time.time(), token, request.method))
        if seconds := self._delays.get(method):
            await asyncio.sleep(seconds)
        if not token or not token.startswith(("xoxb-", "xapp-", "xoxp-")):
            return web.json_response(
                {"ok": False, "error": "not_authed" if not token else "invalid_auth"}
            )
        if self._drops.get(method):
            self._drops[method] -= 1
            if request.transport is not None:
                request.transport.abort()  # RST, no response: the call did not happen
            return web.Response(status=499)
        failures = self._failures.get(method)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        handler = self._handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=200)
        try:
            result = handler(params, token)
        except SlackApiShapeError as exc:
            return web.json_response({"ok": False, "error": exc.error})
        if method == "chat.postMessage" and self.on_post is not None:
            outcome = self.on_post(result["channel"], result["message"])
            if inspect.isawaitable(outcome):
                await outcome
        return web.json_response({"ok": True, **result})

    async def _response(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        try:
            body = await request.json()
        except ValueError:
            body = {"text": await request.text()}
        self.responses.setdefault(rid, []).append(body)
        self.calls.append(RecordedCall(f"response_url:{rid}", body, time.time(), None))
        return web.Response(text="ok")

    # --- Web API methods ------------------------------------------------------------------------
    def _auth_test(self, params: JSONDict, token: str) -> JSONDict:
        return {
            "url": f"https://{self.team}.slack.com/",
            "team": self.team,
            "user": "wizard",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _require(self, params: JSONDict, *names: str) -> None:
        for name in names:
            if not params.get(name):
                raise SlackApiShapeError(
                    "channel_not_found" if name == "channel" else f"missing_{name}"
                )

    def _chat_post_message(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "channel")
        text = params.get("text")
        blocks = _maybe_json(params.get("blocks"))
        attachments = _maybe_json(params.get("attachments"))
        if not text and not blocks and not attachments:
            raise SlackApiShapeError("no_text")
        channel = str(params["channel"])
        message: JSONDict = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": text or "",
            "ts": self._next_ts(),
        }
        for key, value in (("blocks", blocks), ("attachments", attachments)):
            if value:
                message[key] = value
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        metadata = _maybe_json(params.get("metadata"))
        if isinstance(metadata, dict) and metadata:
            message["metadata"] = metadata
        for flag in ("unfurl_links", "unfurl_media", "reply_broadcast", "username"):
            if flag in params:
                message[flag] = params[flag]
        self._store(channel, message)
        return {"channel": channel, "ts": message["ts"], "message": self._public(message)}

    def _chat_update(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "channel", "ts")
        channel, ts = str(params["channel"]), str(params["ts"])
        message = self._find(channel, ts)
        if message is None:
            raise SlackApiShapeError("message_not_found")
        if "text" in params:
            message["text"] = params["text"] or ""
        if "blocks" in params:
            message["blocks"] = _maybe_json(params["blocks"])
        if "attachments" in params:
            message["attachments"] = _maybe_json(params["attachments"])
        metadata = _maybe_json(params.get("metadata"))
        if isinstance(metadata, dict) and metadata:
            message["metadata"] = metadata
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": self._public(message),
        }

    def _chat_post_ephemeral(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "channel", "user")
        if not params.get("text") and not params.get("blocks"):
            raise SlackApiShapeError("no_text")
        return {"message_ts": self._next_ts()}

    def _conversations_replies(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "channel", "ts")
        channel, ts = str(params["channel"]), str(params["ts"])
        thread = self.replies(channel, ts)
        if not thread:
            raise SlackApiShapeError("thread_not_found")
        with_meta = _truthy(params.get("include_all_metadata"))
        limit = int(params.get("limit") or 1000)
        messages = [self._public(m, metadata=with_meta) for m in thread[:limit]]
        return {"messages": messages, "has_more": len(thread) > limit}

    def _conversations_history(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "channel")
        with_meta = _truthy(params.get("include_all_metadata"))
        limit = int(params.get("limit") or 100)
        top = list(reversed(self.messages(str(params["channel"]))))  # newest first, like Slack
        messages = [self._public(m, metadata=with_meta) for m in top[:limit]]
        return {"messages": messages, "has_more": len(top) > limit}

    def _reactions_add(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "channel", "timestamp", "name")
        message = self._find(str(params["channel"]), str(params["timestamp"]))
        if message is None:
            raise SlackApiShapeError("message_not_found")
        reactions: list[JSONDict] = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == params["name"]:
                if self.bot_user_id in reaction["users"]:
                    raise SlackApiShapeError("already_reacted")
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {}
        reactions.append({"name": params["name"], "users": [self.bot_user_id], "count": 1})
        return {}

    def _users_info(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "user")
        user = str(params["user"])
        return {
            "user": {
                "id": user,
                "team_id": self.team_id,
                "name": user.lower(),
                "real_name": f"User {user}",
                "is_bot": user == self.bot_user_id,
                "tz": "Europe/London",
                "profile": {"display_name": user.lower(), "real_name": f"User {user}"},
            }
        }

    def _usergroups_users_list(self, params: JSONDict, token: str) -> JSONDict:
        self._require(params, "usergroup")
        members = self.usergroups.get(str(params["usergroup"]))
        if members is None:
            raise SlackApiShapeError("no_such_subteam")
        return {"users": list(members)}

    def _apps_connections_open(self, params: JSONDict, token: str) -> JSONDict:
        if not token.startswith("xapp-"):
            raise SlackApiShapeError("not_allowed_token_type")
        ticket = uuid.uuid4().hex
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}

    # --- Socket Mode ----------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.StreamResponse:
        # autoping=True: the server answers the SDK's "sdk-ping-pong:<t>" pings with pongs that
        # echo the payload, which is what keeps the client's stale-connection monitor happy.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _SocketConn(ws, request)
        self._sockets.append(conn)
        self.connections_opened += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {
                    "host": "wizard-sandbox",
                    "build_number": 1,
                    "approximate_connection_time": 3600,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    log.warning("slack_sandbox_bad_ws_frame", data=str(msg.data)[:200])
                    continue
                envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
                if isinstance(envelope_id, str):
                    self.acks[envelope_id] = data
                    self._ack_event(envelope_id).set()
        finally:
            conn.closed.set()
            if conn in self._sockets:
                self._sockets.remove(conn)
        return ws

    def _ack_event(self, envelope_id: str) -> asyncio.Event:
        return self._ack_events.setdefault(envelope_id, asyncio.Event())

    async def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> None:
        """Until at least `count` WebSocket connections were ever opened."""
        await self.wait_for(
            lambda: self.connections_opened >= count and bool(self._sockets), timeout
        )

    async def send_envelope(self, payload: JSONDict, type: str = "events_api") -> str:
        """Push one Socket Mode envelope to every connected client; returns its envelope_id."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode client is connected")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": type != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self._ack_event(envelope_id)
        for conn in list(self._sockets):
            await conn.ws.send_json(envelope)
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSONDict:
        """The client's ack for `envelope_id` (TimeoutError if none arrives in time)."""
        async with asyncio.timeout(timeout):
            await self._ack_event(envelope_id).wait()
        return self.acks[envelope_id]

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """What Slack sends before rotating a connection; the SDK reconnects on it."""
        for conn in list(self._sockets):
            await conn.ws.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "wizard-sandbox"}}
            )

    async def drop_connections(self, *, abrupt: bool = True) -> None:
        """Close every WebSocket: abruptly (TCP reset, no close frame) or with a close frame."""
        conns = list(self._sockets)
        for conn in conns:
            if abrupt:
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(code=1001, message=b"going away"), 2)
        for conn in conns:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.closed.wait(), 2)
            if conn in self._sockets:
                self._sockets.remove(conn)
