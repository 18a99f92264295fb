"""A local, in-memory Slack: the Web API methods the bot uses, response_url and Socket Mode.

Why it exists: `wizard demo` must show the whole bot working without a Slack workspace, and the
tests must exercise the *real* `slack_sdk` clients (retry handlers, Socket Mode reconnects, JSON vs
form encoding) rather than mocks of them. So this is a small aiohttp server that speaks Slack's
wire protocol; clients reach it only through `AsyncWebClient(base_url=sandbox.base_url)` and the
WebSocket URL it hands out from `apps.connections.open`. It lives in `bot/devtools/` (not in
`bot/slack/`, which talks to the real Slack, nor in tests) because the demo ships with the bot.

What it models, deliberately small: channels with threads and message metadata (`workspace.py`),
the methods and their errors, AI-app methods included (`web_api.py`), Block Kit validation of
every message with slack-sdk's validators and Slack's limits (`validation.py`), Socket Mode
(`socket_mode.py`), and failure injection here: 429 with `Retry-After`, 5xx, `ok: false` errors,
delays, reset connections.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from bot.devtools.slack.socket_mode import SocketMode
from bot.devtools.slack.validation import BlockKitError, check_message
from bot.devtools.slack.web_api import Identity, SlackApiShapeError, WebApi, maybe_json
from bot.devtools.slack.workspace import JSONDict, Workspace

log = structlog.get_logger(__name__)

OnPost = Callable[[str, JSONDict], Awaitable[None] | None]


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
        self.rejected: list[tuple[RecordedCall, str, list[str]]] = []
        """Calls refused for their shape (invalid blocks, bad arguments): call, error, details."""
        self.responses: dict[str, list[JSONDict]] = {}
        self.usergroups: dict[str, list[str]] = {}
        """User-group id → member user ids, served by `usergroups.users.list`."""
        self.channel_members: dict[str, list[str]] = {}
        """Channel id → member user ids, served by `conversations.members`."""
        self.workspace = Workspace(bot_user_id)
        self.socket = SocketMode(app_id)
        self.api = WebApi(
            self.workspace,
            Identity(team_id, team, bot_user_id, bot_id, app_id),
            self.usergroups,
            lambda: f"ws://127.0.0.1:{self.port}/socket",
            self.channel_members,
        )
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._drops: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_get("/socket", self.socket.handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        log.debug("slack_sandbox_started", base_url=self.base_url)

    async def stop(self) -> None:
        await self.socket.drop_connections(abrupt=False)
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
        → that status with `ok: false`; status 200 needs `error` (e.g. `not_in_channel`, or
        `unknown_method` for a Slack without the AI-app methods).
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
    def messages(self, channel: str, *, include_replies: bool = False) -> list[JSONDict]:
        """Messages in `channel`, oldest first: top level only, or every message."""
        return self.workspace.messages(channel, include_replies=include_replies)

    def replies(self, channel: str, thread_ts: str) -> list[JSONDict]:
        """The parent and its replies, oldest first ([] when no such parent exists)."""
        return self.workspace.replies(channel, thread_ts)

    def inject_message(self, channel: str, message: JSONDict) -> JSONDict:
        """Someone else (a human, an integration) posts `message`; returns it as an event.

        The result has `channel`, `ts` and `event_ts` set, ready to be wrapped in an Events API
        envelope or a Socket Mode envelope.
        """
        stored = dict(json.loads(json.dumps(message)))
        stored.setdefault("type", "message")
        stored["ts"] = self.workspace.next_ts()
        stored = self.workspace.store(channel, stored)
        return {**json.loads(json.dumps(stored)), "event_ts": stored["ts"]}

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll `predicate` (e.g. over `calls` or `messages`) until true or TimeoutError."""
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - predicates read arbitrary state
                await asyncio.sleep(0.01)

    # --- Socket Mode (see socket_mode.py) -------------------------------------------------------
    @property
    def acks(self) -> dict[str, JSONDict]:
        return self.socket.acks

    @property
    def connections_opened(self) -> int:
        return self.socket.connections_opened

    async def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> None:
        """Until at least `count` WebSocket connections were ever opened."""
        await self.wait_for(
            lambda: self.socket.connections_opened >= count and self.socket.connected, timeout
        )

    async def send_envelope(self, payload: JSONDict, type: str = "events_api") -> str:
        """Push one Socket Mode envelope to every connected client; returns its envelope_id."""
        return await self.socket.send_envelope(payload, type)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSONDict:
        """The client's ack for `envelope_id` (TimeoutError if none arrives in time)."""
        return await self.socket.wait_for_ack(envelope_id, timeout)

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """What Slack sends before rotating a connection; the SDK reconnects on it."""
        await self.socket.send_disconnect(reason)

    async def drop_connections(self, *, abrupt: bool = True) -> None:
        """Close every WebSocket: abruptly (TCP reset, no close frame) or with a close frame."""
        await self.socket.drop_connections(abrupt=abrupt)

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

    def _injected(self, method: str) -> web.Response | None:
        failures = self._failures.get(method)
        if not failures:
            return None
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

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_json"})
        token = self._token(request, params)
        call = RecordedCall(method, params, time.time(), token, request.method)
        self.calls.append(call)
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
        injected = self._injected(method)
        if injected is not None:
            return injected
        handler = self.api.handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=200)
        try:
            result = handler(params, token)
        except SlackApiShapeError as exc:
            self.rejected.append((call, exc.error, exc.details))
            log.warning(
                "slack_sandbox_rejected", method=method, error=exc.error, details=exc.details
            )
            body: JSONDict = {"ok": False, "error": exc.error}
            if exc.details:
                body["errors"] = exc.details
            return web.json_response(body)
        if method == "chat.postMessage" and self.on_post is not None:
            outcome = self.on_post(result["channel"], result["message"])
            if inspect.isawaitable(outcome):
                await outcome
        return web.json_response({"ok": True, **result})

    async def _response(self, request: web.Request) -> web.Response:
        """A response_url post: validated like chat.postMessage, recorded in `responses`."""
        rid = request.match_info["rid"]
        try:
            body = await request.json()
        except ValueError:
            body = {"text": await request.text()}
        call = RecordedCall(f"response_url:{rid}", body, time.time(), None)
        self.calls.append(call)
        try:
            if isinstance(body, dict) and not body.get("delete_original"):
                check_message(body.get("text"), maybe_json(body.get("blocks")))
        except BlockKitError as exc:
            self.rejected.append((call, exc.error, exc.details))
            log.warning("slack_sandbox_rejected", method="response_url", error=exc.error)
            return web.json_response({"ok": False, "error": exc.error}, status=400)
        self.responses.setdefault(rid, []).append(body)
        return web.Response(text="ok")
