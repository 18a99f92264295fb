"""The model client: the one place that sends a request to Claude and reads what came back.

Why a module of its own: the wizard (persona, prompts, fact checks) should not care how a call is
made, and current models want a call made a particular way:

- **Thinking and effort are explicit.** Claude Sonnet 5.5 thinks adaptively by default at effort
  high, and thinking tokens count toward `max_tokens`; we send `thinking={"type": "adaptive"}` and
  `output_config.effort` (WIZARD_EFFORT) so an SDK or model default can't silently change latency.
- **Structured output without forced tools** (forced tool use is an error on Sonnet 5.5): the
  answer's JSON schema goes in `output_config.format` (the SDK's `transform_schema`), and the text
  is validated here with pydantic. Not `messages.parse`: its parser raises on a truncated answer
  and the call's usage — what it cost — would be lost with the exception.
- **Every `stop_reason` has an outcome.** Only `end_turn`/`stop_sequence` with valid JSON is an
  answer; `max_tokens`, `refusal`, `pause_turn`, `tool_use`, `model_context_window_exceeded` and
  anything new become a `ModelReply` with a reason a human can read in the thread, and with usage
  and cost, which the audit record and metrics keep either way.
- **One deadline covers the SDK's retries.** Each HTTP attempt has its own timeout (set on the SDK
  client, bot/triage/providers.py: a short connect limit, so refused/reset connections and fast
  429/5xx answers are retried in time); `asyncio.timeout` bounds the whole call. A 429/529 whose
  `retry-after` runs past the deadline fails now, not at the deadline.
- **Response headers are relayed** (every attempt, errors included) to observers such as the
  analysis stage's rate gate (`ModelGate.observe`), through the SDK's client middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import functools
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anthropic
import pydantic
import structlog
from anthropic import AsyncAnthropic, AsyncAnthropicBedrock, AsyncAnthropicVertex
from anthropic.types import ContentBlock, Message, MessageParam, TextBlockParam, ToolUnionParam

from bot import metrics
from bot.models import Usage
from bot.triage.pricing import price_usage

log = structlog.get_logger(__name__)

Effort = Literal["low", "medium", "high", "xhigh", "max"]
SdkClient = AsyncAnthropic | AsyncAnthropicBedrock | AsyncAnthropicVertex
HeadersObserver = Callable[[Mapping[str, str]], None]

_deadline_at: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "wizard_llm_deadline_at", default=None
)

# stop_reason -> (metric cause, what the thread is told)
_STOPS: dict[str, tuple[str, str]] = {
    "max_tokens": (
        "max_tokens",
        "the model's answer was cut off at max_tokens ({max_tokens}); raise WIZARD_LLM_MAX_TOKENS "
        "or lower WIZARD_EFFORT",
    ),
    "refusal": ("refusal", "the model declined to answer this request (refusal)"),
    "pause_turn": ("pause_turn", "the model paused its turn before answering (pause_turn)"),
    "tool_use": ("tool_use", "the model asked to use a tool this call does not offer (tool_use)"),
    "model_context_window_exceeded": (
        "context_window",
        "the prompt and answer did not fit the model's context window",
    ),
}


class RetryPastDeadline(anthropic.AnthropicError):
    """The API asked us to wait (retry-after) longer than the call's deadline has left."""

    def __init__(self, status: int, wait_s: float, left_s: float) -> None:
        super().__init__(f"HTTP {status}, retry-after {wait_s:g}s with {left_s:.1f}s left")
        self.status = status
        self.wait_s = wait_s
        self.left_s = left_s


@dataclass
class ModelReply[T]:
    """What one model call produced: an answer, or why not — with usage and cost either way."""

    parsed: T | None
    cause: str
    """Metric label: `ok`, `timeout`, `http_529`, `max_tokens`, `refusal`, `unusable`, …"""
    problem: str | None = None
    """Why there is no usable answer, in words for the thread and the audit record."""
    stop_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    request_id: str | None = None
    latency_ms: int = 0
    content: list[ContentBlock] = field(default_factory=list)
    """The response's blocks (thinking blocks included, unchanged: a tool loop passes them back)."""


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / scale
            except ValueError:
                continue
    return None


@functools.cache
def _schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The SDK's API-ready JSON schema for `model`, built once per type (not per call)."""
    return anthropic.transform_schema(model)


def _text(content: Sequence[ContentBlock]) -> str:
    return "".join(block.text for block in content if block.type == "text")


class ModelClient:
    """One configured model behind one SDK client (Claude API, Bedrock or Vertex)."""

    def __init__(
        self,
        sdk: SdkClient | None,
        *,
        model: str,
        effort: Effort,
        max_tokens: int,
        deadline_s: float,
        provider: str = "anthropic",
    ) -> None:
        self.sdk = sdk
        self.model = model
        self.effort: Effort = effort
        self.max_tokens = max_tokens
        self.deadline_s = deadline_s
        self.provider = provider
        self._observers: list[HeadersObserver] = []

    # --- wiring -----------------------------------------------------------------------------
    def on_headers(self, observer: HeadersObserver) -> None:
        """Call `observer(headers)` for every HTTP response (retries and errors included)."""
        self._observers.append(observer)

    async def middleware(self, request: Any, call_next: Any) -> Any:
        """SDK client middleware (runs once per attempt): relay headers; fail fast on a
        retry-after that the deadline cannot wait for."""
        response = await call_next(request)
        headers: Mapping[str, str] = response.headers
        for observe in self._observers:
            try:
                observe(headers)
            except Exception:
                log.exception("llm_headers_observer_failed")
        if response.status_code in (429, 529) and (deadline := _deadline_at.get()) is not None:
            wait = _retry_after(headers)
            left = deadline - time.monotonic()
            if wait is not None and wait >= left:
                raise RetryPastDeadline(response.status_code, wait, left)
        return response

    async def close(self) -> None:
        if self.sdk is not None:
            await self.sdk.close()

    # --- one request ------------------------------------------------------------------------
    def request(
        self,
        *,
        system: Sequence[TextBlockParam],
        messages: Sequence[MessageParam],
        schema: type[pydantic.BaseModel] | None = None,
        tools: Sequence[ToolUnionParam] | None = None,
    ) -> dict[str, Any]:
        """The Messages API body: adaptive thinking, explicit effort, optional output schema.
        Tools are offered, never forced (no `tool_choice`: forcing is an error on Sonnet 5.5)."""
        output_config: dict[str, Any] = {"effort": self.effort}
        if schema is not None:
            output_config["format"] = {
                "type": "json_schema",
                "schema": copy.deepcopy(_schema(schema)),  # callers may not share the cache
            }
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": list(system),
            "messages": list(messages),
            "thinking": {"type": "adaptive"},
            "output_config": output_config,
        }
        if tools:
            body["tools"] = list(tools)
        return body

    async def message(self, body: Mapping[str, Any]) -> Message:
        """Send one request (the SDK retries inside); raises what the SDK raises. The caller
        holds the deadline (`deadline()`), so a tool loop can spend one deadline on many turns."""
        if self.sdk is None:
            raise anthropic.AnthropicError("no model client configured")
        response: Message = await self.sdk.messages.create(**body)
        return response

    @contextlib.asynccontextmanager
    async def deadline(self, seconds: float | None = None) -> AsyncIterator[None]:
        """`async with client.deadline():` bounds every attempt and retry made inside it (and
        lets the middleware see how long is left, for retry-after)."""
        seconds = self.deadline_s if seconds is None else seconds
        token = _deadline_at.set(time.monotonic() + seconds)
        try:
            async with asyncio.timeout(seconds):
                yield
        finally:
            _deadline_at.reset(token)

    # --- the structured answer ----------------------------------------------------------------
    async def structured[T: pydantic.BaseModel](
        self,
        *,
        system: Sequence[TextBlockParam],
        messages: Sequence[MessageParam],
        output: type[T],
    ) -> ModelReply[T]:
        """Ask for an answer shaped as `output`; never raises for anything the API does."""
        started = time.perf_counter()
        body = self.request(system=system, messages=messages, schema=output)
        try:
            async with self.deadline():
                response = await self.message(body)
        except (TimeoutError, anthropic.AnthropicError) as exc:
            reply: ModelReply[T] = self.failure(exc)
        else:
            reply = self.interpret(response, output)
        reply.latency_ms = int((time.perf_counter() - started) * 1000)
        self._record(reply)
        return reply

    def failure(self, exc: TimeoutError | anthropic.AnthropicError) -> ModelReply[Any]:
        """What a failed call (deadline, retry-after past it, HTTP error, transport) tells the
        thread; shared by one-shot answers and tool loops (bot/triage/investigate.py)."""
        if isinstance(exc, TimeoutError):
            return ModelReply(
                None, "timeout", f"the model did not answer within {self.deadline_s:g}s"
            )
        if isinstance(exc, RetryPastDeadline):
            return ModelReply(
                None,
                f"http_{exc.status}",
                f"the model API returned HTTP {exc.status} and asked to retry after "
                f"{exc.wait_s:g}s, with {max(exc.left_s, 0):.1f}s of the {self.deadline_s:g}s "
                "deadline left",
            )
        if isinstance(exc, anthropic.APIStatusError):
            log.warning("llm_api_error", status=exc.status_code, message=str(exc.message)[:300])
            return ModelReply(
                None,
                f"http_{exc.status_code}",
                f"the model API returned HTTP {exc.status_code}",
                request_id=exc.request_id,
            )
        return ModelReply(None, "api_error", f"the model API failed ({type(exc).__name__})")

    def record(self, reply: ModelReply[Any]) -> None:
        """Metrics and the `llm_call` log line for one answered (or failed) request."""
        self._record(reply)

    def interpret[T: pydantic.BaseModel](self, response: Message, output: type[T]) -> ModelReply[T]:
        """Map a response to an answer or a reason, by `stop_reason`; usage is always priced."""
        usage = price_usage(response.model or self.model, response.usage)
        reason = response.stop_reason
        common: dict[str, Any] = {
            "stop_reason": reason,
            "usage": usage,
            "model": response.model or self.model,
            "request_id": getattr(response, "_request_id", None),
            "content": list(response.content),
        }
        if reason in ("end_turn", "stop_sequence"):
            text = _text(response.content)
            if not text.strip():
                return ModelReply(
                    None, "no_answer", f"the model returned no answer ({reason})", **common
                )
            try:
                return ModelReply(output.model_validate_json(text), "ok", **common)
            except pydantic.ValidationError as exc:
                errors = exc.error_count()
                problem = f"the model's answer did not match the answer format ({errors} errors)"
                return ModelReply(None, "unusable", problem, **common)
        cause, problem = _STOPS.get(
            reason or "", ("unknown_stop", f"the model stopped for an unexpected reason ({reason})")
        )
        return ModelReply(None, cause, problem.format(max_tokens=self.max_tokens), **common)

    def _record(self, reply: ModelReply[Any]) -> None:
        metrics.LLM_CALLS.labels(reply.cause).inc()
        if reply.stop_reason:
            metrics.LLM_STOPS.labels(reply.stop_reason).inc()
        usage = reply.usage
        if usage is not None:
            for kind in ("input", "output", "cache_creation_input", "cache_read_input"):
                metrics.LLM_TOKENS.labels(kind).inc(getattr(usage, f"{kind}_tokens"))
            if usage.cost_usd is None:
                metrics.LLM_UNPRICED.inc()
            else:
                metrics.LLM_COST.inc(float(usage.cost_usd))
        if reply.cause == "ok":
            metrics.LLM_LATENCY.observe(reply.latency_ms / 1000)
        log.info(
            "llm_call",
            provider=self.provider,
            model=reply.model or self.model,
            effort=self.effort,
            outcome=reply.cause,
            stop_reason=reply.stop_reason,
            ms=reply.latency_ms,
            request_id=reply.request_id,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            thinking_tokens=usage.thinking_tokens if usage else None,
            cache_read=usage.cache_read_input_tokens if usage else None,
            cost_usd=str(usage.cost_usd) if usage else None,
        )

    # --- streaming (follow-ups and questions in Slack, issue 14) ----------------------------
    async def stream_text(
        self,
        *,
        system: Sequence[TextBlockParam],
        messages: Sequence[MessageParam],
        on_final: Callable[[ModelReply[None]], None] | None = None,
        tools: Sequence[ToolUnionParam] | None = None,
        tool_choice: Mapping[str, str] | None = None,
    ) -> AsyncIterator[str]:
        """Yield the answer's text deltas as they arrive (thinking is not yielded). The caller
        bounds it with `deadline()`. When the stream completes, its outcome — stop reason,
        usage and cost, latency, and the response's blocks (a `tool_use` turn goes back to the
        model exactly as it came) — is recorded and handed to `on_final` (a `max_tokens` or
        `refusal` stop is the caller's to explain: the text already went out)."""
        if self.sdk is None:
            raise anthropic.AnthropicError("no model client configured")
        started = time.perf_counter()
        body = self.request(system=system, messages=messages, tools=tools)
        if tool_choice is not None:
            body["tool_choice"] = dict(tool_choice)
        async with self.sdk.messages.stream(**body) as stream:
            async for text in stream.text_stream:
                yield text
            final = await stream.get_final_message()
        stop = final.stop_reason
        cause, problem = ("ok", None)
        if stop not in ("end_turn", "stop_sequence", *(("tool_use",) if tools else ())):
            cause, problem = _STOPS.get(
                stop or "", ("unknown_stop", f"the model stopped for an unexpected reason ({stop})")
            )
            problem = problem.format(max_tokens=self.max_tokens)
        reply: ModelReply[None] = ModelReply(
            None,
            cause,
            problem,
            stop_reason=stop,
            usage=price_usage(final.model or self.model, final.usage),
            model=final.model or self.model,
            request_id=getattr(final, "_request_id", None),
            latency_ms=int((time.perf_counter() - started) * 1000),
            content=list(final.content),
        )
        self._record(reply)
        if on_final is not None:
            on_final(reply)
