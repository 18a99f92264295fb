"""A local fake of the Anthropic Messages API — as the Claude API, Amazon Bedrock and Google
Vertex AI serve it — reached by the real SDK clients via `base_url`.

Why: the wizard's behaviour depends on what the *real* `anthropic` clients do with responses —
status-code → exception mapping, retries and `retry-after`, timeouts, SigV4 signing for Bedrock,
the Vertex URL scheme — so tests go through the SDK's own HTTP stack, never a patched method.
Answers look like current models' (tests/fakes/anthropic_wire.py): a signed thinking block before
the answer, usage with cache reads/writes by TTL and the thinking share of output, rate-limit and
`request-id` headers on every response; tests can script turns (tool use, `max_tokens` with
truncated JSON, refusal, any stop reason) and switch failure modes: delays, HTTP errors with the
real error body (429 with `retry-after`, 529 overloaded), hanging, non-JSON output, and
connections dropped mid-response, which is what a proxy restart looks like to the SDK.

Routes: `POST /v1/messages` (SSE when `stream`), `GET /v1/models/{id}` (the start-up check),
Bedrock `POST /model/{modelId}/invoke`, Vertex
`POST /v1/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:rawPredict` (the SDK's
Vertex base URL ends in `/v1`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Literal
from urllib.parse import unquote

import structlog
from aiohttp import web

from tests.fakes.anthropic_stream import StreamLog, StreamPace, markdown_answer, paced_sse
from tests.fakes.anthropic_wire import (
    Conversation,
    JSONDict,
    Pace,
    RateLimits,
    Scripted,
    build_message,
    cache_split,
    first_alert_name,
    model_info,
    schema_violations,
    tool_results,
    triage_answer,
    user_text,
)

log = structlog.get_logger(__name__)

Responder = Callable[[JSONDict], JSONDict]
DropStage = Literal["headers", "body"]
Platform = Literal["anthropic", "bedrock", "vertex"]
__all__ = ["FakeAnthropic", "JSONDict", "Scripted", "first_alert_name", "user_text"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_MESSAGES = {429: "Number of request tokens has exceeded your rate limit.", 529: "Overloaded"}
KNOWN_MODELS = frozenset({"claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-4-5"})


class FakeAnthropic:
    """The fake on 127.0.0.1 (random port); point an SDK client's `base_url` here."""

    def __init__(self, responder: Responder | None = None, *, model_id: str | None = None) -> None:
        self.responder: Responder = responder or self.default_answer
        self.text_responder: Callable[[JSONDict], str] = markdown_answer
        """What a streamed request without an output schema is answered (Markdown)."""
        self.planner: Callable[[JSONDict], Scripted | None] | None = None
        """Decides the next turn from the request when nothing is scripted (None: answer)."""
        self.model_id = model_id
        self.models: set[str] = set(KNOWN_MODELS)
        self.capabilities: dict[str, JSONDict] = {}
        """Per model, the `capabilities` object `GET /v1/models/{id}` reports (default none)."""
        self.rollback_target: str | None = None
        self.requests: list[JSONDict] = []
        self.violations: list[list[str]] = []
        self.limits = RateLimits()
        self.conversation = Conversation()
        self.vertex_token: str | None = None
        """When set, Vertex requests must carry exactly this bearer token."""
        self._script: list[Scripted] = []
        self._cached_prefixes: set[str] = set()
        self._delay = 0.0
        self._pace: Pace | None = None
        self._stream_pace: StreamPace | None = None
        self._cut_stream: int | None = None
        self.streams = StreamLog()
        """When each streamed answer's first text delta was written (bench/streaming.py)."""
        self._fail_status: int | None = None
        self._fail_times: int | None = None
        self._retry_after = 1
        self._hang = False
        self._invalid_json = False
        self._drop: DropStage | None = None
        self._drop_times: int | None = None
        self.dropped = 0
        self._released = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._claude_api)
        app.router.add_get("/v1/models/{model}", self._model_info)
        app.router.add_post("/model/{model}/invoke", self._bedrock)
        vertex = "/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{action}"
        app.router.add_post(vertex, self._vertex)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        # let delayed and hanging handlers finish now, so cleanup does not wait on them
        self._stopping.set()
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAnthropic:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The SDK appends `/v1/messages` itself, so the base is just scheme://host:port."""
        if self._port is None:
            raise RuntimeError("FakeAnthropic.start() was not awaited")
        return f"http://127.0.0.1:{self._port}"

    @property
    def calls(self) -> int:  # requests received, failed ones included
        return len(self.requests)

    # --- scripting and modes --------------------------------------------------------------------
    def script(self, *turns: Scripted) -> None:
        """Answer the next requests with these turns, in order (then the default answer)."""
        self._script += turns

    def tool_results(self, index: int = -1) -> list[JSONDict]:
        """The tool_result blocks request `index` carried back."""
        return tool_results(self.requests[index]["body"])

    def delay(self, seconds: float) -> None:
        self._delay = seconds

    def pace(self, model: Pace | None) -> None:
        """Answer as slowly as a generating model: see `Pace` (None: instantly again)."""
        self._pace = model

    def stream_pace(self, pace: StreamPace | None, *, cut_after_chars: int | None = None) -> None:
        """Stream answers (`stream: true`) at `pace` (None: at once); with `cut_after_chars` the
        next streams are cut once that much text was sent (until reset)."""
        self._stream_pace = pace
        self._cut_stream = cut_after_chars

    def fail(self, status: int, times: int | None = None, *, retry_after: int = 1) -> None:
        """Answer `status` with Anthropic's error body (`times` None: until reset); a 429
        carries `retry-after: <retry_after>` (the SDK sleeps that long before retrying)."""
        self._fail_status = status
        self._fail_times = times
        self._retry_after = retry_after

    def hang(self) -> None:
        """Accept requests and never answer (until `reset()` or `stop()`)."""
        self._hang = True
        self._released = asyncio.Event()

    def invalid_json(self) -> None:
        """Answer 200 with a text block that is not JSON."""
        self._invalid_json = True

    def drop(self, stage: DropStage = "headers", times: int | None = None) -> None:
        """Cut the connection mid-response (`times` None: until reset): after a 200 status line
        and headers promising a body ("headers"), or part-way through that body ("body")."""
        self._drop = stage
        self._drop_times = times

    def reset(self) -> None:
        """Back to prompt, valid answers; hanging requests are released (and then answer)."""
        self._delay = 0.0
        self._fail_status = None
        self._fail_times = None
        self._hang = False
        self._invalid_json = False
        self._drop = None
        self._drop_times = None
        self._cut_stream = None
        self._script.clear()
        self._released.set()

    # --- the default model ----------------------------------------------------------------------
    def default_answer(self, body: JSONDict) -> JSONDict:
        """A plausible TriageAnswer that quotes the first alert name found in the user turn."""
        return triage_answer(body, self.rollback_target)

    # --- HTTP: errors and cuts ------------------------------------------------------------------
    def _headers(self, platform: Platform, exhausted: bool = False) -> dict[str, str]:
        rid = f"req_{uuid.uuid4().hex[:24]}"
        if platform == "bedrock":
            return {"x-amzn-requestid": str(uuid.uuid4())}
        if platform == "vertex":
            return {"request-id": rid}
        return {"request-id": rid, **self.limits.headers(exhausted)}

    def _error(
        self,
        status: int,
        message: str,
        platform: Platform = "anthropic",
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        kind = _ERROR_TYPES.get(status, "api_error")
        extra = {**self._headers(platform, exhausted=status == 429), **(headers or {})}
        if platform == "bedrock":  # Bedrock's own error shape
            extra["x-amzn-ErrorType"] = "ThrottlingException" if status == 429 else kind
            return web.json_response({"message": message}, status=status, headers=extra)
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return web.json_response(body, status=status, headers=extra)

    def _cut(self, request: web.Request, stage: DropStage) -> web.Response:
        """Write a raw, truncated HTTP response straight to the socket, then close it.

        Raw bytes, because aiohttp's own response objects buffer headers until the body is
        written and always finish what they start; a real dropped connection does neither.
        """
        self.dropped += 1
        body = json.dumps({"id": "msg_cut", "type": "message", "role": "assistant", "content": []})
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body) + 4096}\r\n"
            f"request-id: req_{uuid.uuid4().hex[:24]}\r\n\r\n"
        ).encode()
        transport = request.transport
        if transport is not None:
            transport.write(head + (body[: len(body) // 2].encode() if stage == "body" else b""))
            transport.close()  # flushes what was written, then FIN: the body never completes
        log.info("fake_anthropic_dropped", stage=stage)
        # aiohttp will not write this to the closed transport; it only ends the handler.
        return web.Response(status=499)

    # --- HTTP: routes ---------------------------------------------------------------------------
    async def _model_info(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        if model not in self.models:
            return self._error(404, f"model: {model}")
        info = model_info(model)
        if model in self.capabilities:
            info["capabilities"] = self.capabilities[model]
        return web.json_response(info, headers=self._headers("anthropic"))

    async def _claude_api(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        bearer = headers.get("authorization", "")
        key = headers.get("x-api-key") or (bearer[7:] if bearer.startswith("Bearer ") else None)
        problem = None if key else "x-api-key or Authorization: Bearer header is required"
        return await self._serve(request, "anthropic", None, problem, key)

    async def _bedrock(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        problem = None
        if (
            not auth.startswith("AWS4-HMAC-SHA256 Credential=")
            or "/bedrock/aws4_request" not in auth
        ):
            problem = "Missing Authentication Token"
        elif "X-Amz-Date" not in request.headers or "SignedHeaders=" not in auth:
            problem = "Signature expired or X-Amz-Date missing"
        model = unquote(request.match_info["model"])
        return await self._serve(request, "bedrock", model, problem, auth or None)

    async def _vertex(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["action"].partition(":")
        bearer = request.headers.get("Authorization", "")
        token = bearer[7:] if bearer.startswith("Bearer ") else ""
        problem = None
        if not token or (self.vertex_token is not None and token != self.vertex_token):
            problem = "Request had invalid authentication credentials."
        elif action != "rawPredict":
            return self._error(404, f"unknown method {action}", "vertex")
        return await self._serve(request, "vertex", model, problem, token or None)

    async def _serve(
        self,
        request: web.Request,
        platform: Platform,
        path_model: str | None,
        auth_problem: str | None,
        credential: str | None,
    ) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._error(400, "request body is not valid JSON", platform)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            {
                "body": body,
                "headers": headers,
                "api_key": credential,
                "platform": platform,
                "model": path_model or body.get("model"),
            }
        )
        if auth_problem:
            return self._error(403 if platform == "bedrock" else 401, auth_problem, platform)
        if self._delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._delay)
        if self._hang:
            await self._released.wait()
        if self._stopping.is_set():
            return self._error(529, "the fake API is shutting down", platform)
        if self._fail_status is not None:
            return self._failure(platform)
        if platform != "anthropic" and not body.get("anthropic_version"):
            # Bedrock and Vertex take the API version in the body, not a header
            return self._error(400, "anthropic_version: Field required", platform)
        required = ("max_tokens", "messages") if path_model else ("model", "max_tokens", "messages")
        for key in required:
            if key not in body:
                return self._error(400, f"{key}: Field required", platform)
        if (
            problem := self.conversation.check({**body, "model": self._model(body, path_model)})
        ) is not None:
            return self._error(400, problem, platform)
        if self._drop is not None:
            stage = self._drop
            if self._drop_times is not None:
                self._drop_times -= 1
                if self._drop_times <= 0:
                    self._drop = self._drop_times = None
            return self._cut(request, stage)
        message = self._message(body, self._model(body, path_model))
        if body.get("stream") and platform == "anthropic":
            self.limits.spend(message["usage"]["input_tokens"], message["usage"]["output_tokens"])
            return await paced_sse(
                request, message, self._headers("anthropic"), pace=self._stream_pace,
                cut_after_chars=self._cut_stream, log=self.streams, stopping=self._stopping,
            )  # fmt: skip
        if self._pace is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._pace.seconds(message))
        self.limits.spend(message["usage"]["input_tokens"], message["usage"]["output_tokens"])
        return web.json_response(message, headers=self._headers(platform))

    def _model(self, body: JSONDict, path_model: str | None) -> str:
        return self.model_id or path_model or str(body.get("model"))

    def _failure(self, platform: Platform) -> web.Response:
        status = self._fail_status
        assert status is not None
        if self._fail_times is not None:
            self._fail_times -= 1
            if self._fail_times <= 0:
                self._fail_status = self._fail_times = None
        headers = {"retry-after": str(self._retry_after)} if status in (429, 529) else {}
        return self._error(
            status, _MESSAGES.get(status, "Internal server error"), platform, headers
        )

    def _message(self, body: JSONDict, model: str) -> JSONDict:
        turn = self._script.pop(0) if self._script else None
        if turn is None and self.planner is not None:
            turn = self.planner(body)  # a model that reads the request (its tools, results)
        turn = turn or Scripted.answer()
        if self._pace is not None and not self._script:
            turn = self._pace.turn(body, turn)
        if self._invalid_json:
            answer = "Sure! Here is my triage: the gateway looks slow {not json"
        elif not ((body.get("output_config") or {}).get("format")) and body.get("stream"):
            answer = self.text_responder(body)  # a streamed free-text answer (follow-ups)
        else:
            value = self.responder(body)
            schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
            if isinstance(schema, dict) and turn.text is None:
                problems = schema_violations(value, schema)
                if problems:
                    log.warning("fake_anthropic_answer_violates_schema", problems=problems[:5])
                    self.violations.append(problems)
            answer = json.dumps(value)
        prefix, prefix_tokens, ttl = cache_split(body)
        cache_read = 0
        if prefix is not None:
            key = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
            if key in self._cached_prefixes:
                cache_read = prefix_tokens
            self._cached_prefixes.add(key)
        return build_message(
            body,
            turn,
            answer,
            model=model,
            cache=(prefix_tokens, cache_read, ttl),
            conversation=self.conversation,
        )
