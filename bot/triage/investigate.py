"""The tool loop: the model may call read-only tools before it answers, within a budget.

Why our own loop rather than the SDK's tool runner: each step must be shown in the thread while
it runs, recorded for the audit, and bounded twice — by `WIZARD_TOOL_CALLS_MAX` and by the
answer's deadline. Past either, further calls get an error result saying "answer now with what
you have" and the next request carries `tool_choice: none`, so the model answers in the format
(tools are never forced, and never withdrawn mid-conversation: a request whose history holds
tool_use blocks must still define them).
Each assistant turn goes back exactly as it came — thinking blocks and signatures unchanged, as
current models require in tool loops. Usage and cost are summed over every turn.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import anthropic
import pydantic
import structlog
from anthropic.types import Message, MessageParam, TextBlockParam

from bot.evidence.models import ToolCall
from bot.evidence.tools import PROGRESS, ToolBox
from bot.models import Usage
from bot.triage.llm import ModelClient, ModelReply
from bot.triage.pricing import price_usage

log = structlog.get_logger(__name__)

Step = Callable[[str], Awaitable[None]]
ANSWER_RESERVE = 0.35
"""Share of the deadline kept for the final answer: no tool call starts later than that."""
TOOL_TIMEOUT_S = 5.0
MAX_TURNS = 20


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    """Usage of two calls together; cost unknown if either's is."""
    if more is None:
        return total
    if total is None:
        return more
    ints = {
        name: getattr(total, name) + getattr(more, name)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "cache_write_1h_tokens",
            "thinking_tokens",
        )
    }
    cost: Decimal | None = None
    if total.cost_usd is not None and more.cost_usd is not None:
        cost = total.cost_usd + more.cost_usd
    return Usage(
        **ints,
        cost_usd=cost,
        inference_geo=more.inference_geo,
        service_tier=more.service_tier,
    )


@dataclass
class Investigation[T: pydantic.BaseModel]:
    """What a tool loop produced: the final reply (with summed usage) and every call made."""

    reply: ModelReply[T]
    calls: list[ToolCall] = field(default_factory=list)
    turns: int = 0


def _describe(name: str, tool_input: Any) -> str:
    what = PROGRESS.get(name, f"calling {name}")
    detail = ""
    if isinstance(tool_input, dict):
        detail = str(
            tool_input.get("query") or tool_input.get("service") or tool_input.get("labels") or ""
        )
    detail = " ".join(detail.split())
    return f"{what}: {detail[:150]}" if detail else what


class Investigator:
    """Runs one answer with tools offered, for one `ModelClient` and one `ToolBox`."""

    def __init__(
        self,
        client: ModelClient,
        tools: ToolBox,
        *,
        max_calls: int = 8,
        answer_reserve: float = ANSWER_RESERVE,
        tool_timeout_s: float = TOOL_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.tools = tools
        self.max_calls = max_calls
        self.answer_reserve = answer_reserve
        self.tool_timeout_s = tool_timeout_s

    def instructions(self) -> str:
        """The tool instructions for the user turn, with this analysis's budget."""
        return (
            f"{self.tools.specs.instructions}\n"
            f"Budget: at most {self.max_calls} tool calls and "
            f"{self.client.deadline_s * (1 - self.answer_reserve):.0f} s of investigation."
        )

    async def run[T: pydantic.BaseModel](
        self,
        *,
        system: Sequence[TextBlockParam],
        messages: Sequence[MessageParam],
        output: type[T],
        on_step: Step | None = None,
    ) -> Investigation[T]:
        """Never raises for anything the API or a tool does; the reply says what happened."""
        started = time.perf_counter()
        deadline = time.monotonic() + self.client.deadline_s
        stop_tools_at = deadline - self.client.deadline_s * self.answer_reserve
        history: list[MessageParam] = list(messages)
        tools = self.tools.definitions()
        calls: list[ToolCall] = []
        usage: Usage | None = None
        turns = 0
        reply: ModelReply[T]
        try:
            async with self.client.deadline():
                spent = False
                while True:
                    body = self.client.request(
                        system=system, messages=history, schema=output, tools=tools
                    )
                    if spent:
                        # Budget or time is up: the tools stay defined (the history holds
                        # tool_use blocks) but may not be used — `none` forbids, never forces.
                        body["tool_choice"] = {"type": "none"}
                    response: Message = await self.client.message(body)
                    turns += 1
                    usage = add_usage(usage, price_usage(response.model, response.usage))
                    if response.stop_reason != "tool_use" or turns >= MAX_TURNS:
                        reply = self.client.interpret(response, output)
                        break
                    # exactly as it came: thinking blocks (and their signatures) unchanged
                    sent = [b.to_dict() for b in response.content]
                    history.append(cast(MessageParam, {"role": "assistant", "content": sent}))
                    results = await self.tool_results(response, calls, stop_tools_at, on_step)
                    history.append(cast(MessageParam, {"role": "user", "content": results}))
                    spent = spent or any(r.get("type") == "text" for r in results)
        except (TimeoutError, anthropic.AnthropicError) as exc:
            reply = self.client.failure(exc)
        reply.usage = usage if usage is not None else reply.usage
        reply.latency_ms = int((time.perf_counter() - started) * 1000)
        self.client.record(reply)
        log.info("investigation_done", turns=turns, tool_calls=len(calls), outcome=reply.cause)
        return Investigation(reply, calls, turns)

    async def tool_results(
        self,
        response: Message | ModelReply[Any],
        calls: list[ToolCall],
        stop_tools_at: float,
        on_step: Step | None,
    ) -> list[Any]:
        """A tool_result per tool_use block of `response` (a message, or a streamed turn's
        reply with its blocks); past the budget or the time, an error result."""
        results: list[Any] = []
        spent = False
        for block in response.content:
            if block.type != "tool_use":
                continue
            left = stop_tools_at - time.monotonic()
            if len(calls) >= self.max_calls or left <= 0:
                spent = True
                why = (
                    f"tool budget spent ({self.max_calls} calls)"
                    if len(calls) >= self.max_calls
                    else "the deadline is near"
                )
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": block.id,
                        "content": f"error: {why}: answer now with what you have, "
                        "and say what you could not check",
                        "is_error": True,
                    }
                )
                continue
            if on_step is not None:
                try:
                    await on_step(_describe(block.name, block.input))
                except Exception:  # the thread note is nice to have; the answer is not
                    log.warning("tool_step_note_failed", tool=block.name)
            text, record = await self.tools.call(
                block.name, block.input, timeout_s=min(self.tool_timeout_s, max(0.5, left))
            )
            calls.append(record)
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": block.id,
                    "content": text,
                    "is_error": not record.ok,
                }
            )
        if spent:
            results.append(
                {"type": "text", "text": "No more tool calls: give the final answer now."}
            )
        return results
