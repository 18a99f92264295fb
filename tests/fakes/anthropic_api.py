"""A local fake of the Anthropic Messages API, reached by the real SDK via `base_url`.

Why: the wizard's behaviour depends on what the *real* `anthropic` client does with responses —
structured-output parsing into `TriageAnswer`, status-code → exception mapping, timeouts — so tests
must go through the SDK's own HTTP stack, not a patched method. This aiohttp server answers
`POST /v1/messages` with well-formed Messages API JSON, records every request, emulates prompt
caching (cache reads when the cached system prefix repeats), and can be switched at runtime into
failure modes: delays, HTTP errors with Anthropic's real error body, hanging, non-JSON output, and
connections dropped mid-response (after the status line and headers, or part-way through the body),
which is what a proxy restart or a reset TCP connection looks like to the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any, Literal

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

JSONDict = dict[str, Any]
Responder = Callable[[JSONDict], JSONDict]
DropStage = Literal["headers", "body"]

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
_NAME_PATTERNS = (
    re.compile(r"alertname[\"']?\s*[:=]\s*[\"'`]?([A-Za-z][\w.-]+)"),
    re.compile(r"\"name\"\s*:\s*\"([^\"]+)\""),
    re.compile(r"\bname\s*[:=]\s*[\"'`]?([A-Za-z][\w.-]+)"),
    re.compile(r"\b([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)\b"),
)
CHARS_PER_TOKEN = 4


def _tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, len(text) // CHARS_PER_TOKEN)


def user_text(body: JSONDict) -> str:
    """All text of the user turns in a Messages API request body."""
    parts: list[str] = []
    for message in body.get("messages") or []:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [b.get("text", "") for b in content if isinstance(b, dict)]
    return "\n".join(parts)


def first_alert_name(text: str) -> str | None:
    """The first thing in `text` that looks like an alert name (alertname=, name:, CamelCase)."""
    for pattern in _NAME_PATTERNS:
        if match := pattern.search(text):
            return match.group(1)
    return None


def schema_violations(value: Any, schema: JSONDict, root: JSONDict | None = None) -> list[str]:
    """A small JSON-schema check (the subset the SDK's transformed pydantic schemas use)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return schema_violations(value, root.get("$defs", {}).get(name, {}), root)
    if "anyOf" in schema:
        options = [schema_violations(value, option, root) for option in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"no anyOf branch matches {value!r:.60}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{value!r} not in {schema['enum']}"]
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "integer": int,
        "number": (int, float),
        "null": type(None),
    }
    kind = schema.get("type")
    if isinstance(kind, str) and kind in kinds and not isinstance(value, kinds[kind]):
        return [f"expected {kind}, got {type(value).__name__}"]
    errors: list[str] = []
    if isinstance(value, dict):
        props: JSONDict = schema.get("properties", {})
        errors += [f"missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"unexpected {k}" for k in value if k not in props]
        for key, sub in value.items():
            if key in props:
                errors += [f"{key}: {e}" for e in schema_violations(sub, props[key], root)]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += [f"[{i}]: {e}" for e in schema_violations(item, schema["items"], root)]
    return errors


class FakeAnthropic:
    """`POST /v1/messages` on 127.0.0.1 (random port); point `AsyncAnthropic(base_url=...)` here."""

    def __init__(self, responder: Responder | None = None, *, model_id: str | None = None) -> None:
        self.responder: Responder = responder or self.default_answer
        self.model_id = model_id
        self.rollback_target: str | None = None
        self.requests: list[JSONDict] = []
        self.violations: list[list[str]] = []
        self._cached_prefixes: set[str] = set()
        self._delay = 0.0
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
        app.router.add_post("/v1/messages", self._messages)
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
    def calls(self) -> int:
        return len(self.requests)

    # --- modes ----------------------------------------------------------------------------------
    def delay(self, seconds: float) -> None:
        self._delay = seconds

    def fail(self, status: int, times: int | None = None, *, retry_after: int = 1) -> None:
        """Answer `status` with Anthropic's error body (`times` None: until reset); a 429
        carries `retry-after: <retry_after>` (the SDK sleeps that long, up to 60 s)."""
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
        """Cut the connection mid-response (`times` None: until reset).

        "headers": a 200 status line and headers promising a body, then the socket closes.
        "body": the same, plus the first part of a valid JSON body, then the socket closes.
        """
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
        self._released.set()

    # --- the default model ----------------------------------------------------------------------
    def default_answer(self, body: JSONDict) -> JSONDict:
        """A plausible TriageAnswer that quotes the first alert name found in the user turn."""
        name = first_alert_name(user_text(body)) or "the reported issue"
        target = self.rollback_target
        return {
            "summary": f"{name} is firing; impact is being assessed (fake model answer).",
            "immediate_actions": [f"Acknowledge {name} and check its dashboard."],
            "implementation_plan": [f"Find the change that triggered {name} and revert it."],
            "monitoring_strategy": [f"Watch the metric behind {name} for 15 minutes."],
            "risk_mitigation": ["Change one thing at a time; keep the previous build warm."],
            "rollback": {
                "target_version": target,
                "target_known": target is not None,
                "steps": ["Redeploy the previous version."] if target else [],
                "verification": ["Error rate and latency back under SLO."],
                "abort_criteria": ["The rollback itself raises errors."],
            },
            "success_criteria": [f"{name} resolved and stays resolved for 15 minutes."],
            "clarifying_questions": [],
            "confidence": "medium",
            "evidence": [f"alert {name}"],
            "compliance_notes": ["Record the change in the change log."],
        }

    # --- HTTP -----------------------------------------------------------------------------------
    def _error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        kind = _ERROR_TYPES.get(status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": message}}
        extra = {"request-id": f"req_{uuid.uuid4().hex[:24]}", **(headers or {})}
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

    def _cache_split(self, body: JSONDict) -> tuple[JSONDict | None, int]:
        """The prefix up to the last `cache_control` breakpoint (tools, system) and its size."""
        tools = body.get("tools") or []
        system = body.get("system") or []
        blocks: list[Any] = [*tools, *(system if isinstance(system, list) else [])]
        last = max(
            (i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")),
            default=None,
        )
        if last is None:
            return None, 0
        prefix = {"model": body.get("model"), "blocks": blocks[: last + 1]}
        return prefix, _tokens(blocks[: last + 1])

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "request body is not valid JSON")
        headers = {k.lower(): v for k, v in request.headers.items()}
        bearer = headers.get("authorization", "")
        api_key = headers.get("x-api-key") or (bearer[7:] if bearer.startswith("Bearer ") else None)
        self.requests.append({"body": body, "headers": headers, "api_key": api_key})
        if not api_key:
            return self._error(401, "x-api-key or Authorization: Bearer header is required")
        if self._delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._delay)
        if self._hang:
            await self._released.wait()
        if self._stopping.is_set():
            return self._error(529, "the fake API is shutting down")
        if self._fail_status is not None:
            status = self._fail_status
            if self._fail_times is not None:
                self._fail_times -= 1
                if self._fail_times <= 0:
                    self._fail_status = self._fail_times = None
            headers = {"retry-after": str(self._retry_after)} if status == 429 else {}
            messages = {
                429: "Number of request tokens has exceeded your rate limit.",
                529: "Overloaded",
            }
            return self._error(status, messages.get(status, "Internal server error"), headers)
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return self._error(400, f"{key}: Field required")
        if self._drop is not None:
            stage = self._drop
            if self._drop_times is not None:
                self._drop_times -= 1
                if self._drop_times <= 0:
                    self._drop = self._drop_times = None
            return self._cut(request, stage)

        if self._invalid_json:
            text = "Sure! Here is my triage: the gateway looks slow {not json"
        else:
            answer = self.responder(body)
            schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
            if isinstance(schema, dict):
                problems = schema_violations(answer, schema)
                if problems:
                    log.warning("fake_anthropic_answer_violates_schema", problems=problems[:5])
                    self.violations.append(problems)
            text = json.dumps(answer)

        prefix, prefix_tokens = self._cache_split(body)
        cache_read = cache_creation = 0
        if prefix is not None:
            key = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
            if key in self._cached_prefixes:
                cache_read = prefix_tokens
            else:
                cache_creation = prefix_tokens
                self._cached_prefixes.add(key)
        total = _tokens({k: body.get(k) for k in ("system", "tools", "messages", "output_config")})
        usage = {
            "input_tokens": max(1, total - prefix_tokens),
            "output_tokens": _tokens(text),
            "cache_creation_input_tokens": cache_creation,
            "cache_read_input_tokens": cache_read,
            "service_tier": "standard",
        }
        response = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": self.model_id or body.get("model"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        return web.json_response(response, headers={"request-id": f"req_{uuid.uuid4().hex[:24]}"})
