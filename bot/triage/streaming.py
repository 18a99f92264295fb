"""A streamed answer: the model writes Markdown, each guarded chunk goes out as it is written.

Follow-ups and `/wizard` questions are read while they are written (issue 14), so instead of
the structured `TriageAnswer` JSON they are asked as Markdown (`prompts/streamed.md`) through
the client's streaming call (`ModelClient.stream_text`). Every delta passes the `ChunkGuard`
(mentions, links, secrets, invented versions) before `emit` sends it; what was emitted is the
answer (`TriageResult.text`), and its five parts are parsed back into a `TriageAnswer` so the
audit record, thread memory and feedback export read it like any other answer.

When the model fails, times out or stops without a usable answer, the result is the runbook
answer (`fallback`), with the reason — and, if text was already shown, a note saying how much,
so the Slack side can replace the partial message (bot/slack/streaming.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

import anthropic
import httpx2
from anthropic.types import MessageParam, TextBlockParam

from bot.answer import EXTRAS, PARTS
from bot.evidence.models import ToolCall
from bot.models import Context, RollbackPlan, TriageAnswer, TriageResult, Usage
from bot.triage.chunks import ChunkGuard, chunk_policy
from bot.triage.guard import GuardPolicy
from bot.triage.investigate import ANSWER_RESERVE, MAX_TURNS, Investigator, add_usage
from bot.triage.llm import ModelClient, ModelReply
from bot.triage.rollback import history_plan, plan_from_history

Emit = Callable[[str], Awaitable[None]]
"""Sends one guarded chunk to where the answer is shown (awaited: back-pressure)."""


class Asker(Protocol):
    """What a streamed answer needs of the wizard (bot/triage/wizard.py), named here so the
    two modules do not import each other."""

    client: ModelClient | None

    @property
    def system(self) -> list[TextBlockParam]: ...

    async def prompt(self, user: str) -> tuple[list[MessageParam], str]: ...

    def policy(self, context: Context | None) -> GuardPolicy: ...

    def fell_back(
        self,
        fallback: Callable[[str], TriageAnswer],
        reason: str,
        cause: str,
        prompt_hash: str,
        **kept: Any,
    ) -> TriageResult: ...


MAX_SUMMARY = 600
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.*\S)\s*$")
_SECTIONS: dict[str, str] = {
    **{p.title.split()[0].lower(): p.key for p in PARTS},
    **{e.title.split()[0].lower(): e.key for e in EXTRAS},
    "rollback": "risk_mitigation",
    "success": "success_criteria",
    "benchmarks": "success_criteria",
}
"""First word of a heading → the answer field its bullets go to."""
_CUT_CAUSES = frozenset({"max_tokens", "context_window"})
"""Stops after which the streamed text is kept (cut short, said so), not replaced."""


def answer_from_text(text: str, rollback: RollbackPlan) -> TriageAnswer:
    """The five parts of a streamed Markdown answer: the text before the first heading is the
    summary; each known heading's bullets (or lines) its part. The rollback plan is the one
    built from deploy history — the text never sets a target version."""
    fields: dict[str, list[str]] = {}
    summary: list[str] = []
    current: str | None = None
    for line in text.splitlines():
        if heading := _HEADING.match(line):
            words = heading.group(1).strip("*_ ").lower().split()
            current = _SECTIONS.get(words[0]) if words else None
            continue
        if not line.strip():
            continue
        if current is None:
            summary.append(line.strip())
            continue
        bullet = _BULLET.match(line)
        fields.setdefault(current, []).append(bullet.group(1) if bullet else line.strip())
    joined = " ".join(summary) or text.strip()
    if len(joined) > MAX_SUMMARY:
        joined = joined[: MAX_SUMMARY - 1].rstrip() + "…"
    return TriageAnswer(
        summary=joined,
        immediate_actions=fields.get("immediate_actions", []),
        implementation_plan=fields.get("implementation_plan", []),
        monitoring_strategy=fields.get("monitoring_strategy", []),
        risk_mitigation=fields.get("risk_mitigation", []),
        rollback=rollback,
        success_criteria=fields.get("success_criteria", []),
        clarifying_questions=fields.get("clarifying_questions", []),
        confidence="medium",
        evidence=fields.get("evidence", []),
        compliance_notes=fields.get("compliance_notes", []),
    )


async def stream_answer(
    wizard: Asker,
    user: str,
    *,
    context: Context | None,
    fallback: Callable[[str], TriageAnswer],
    emit: Emit,
    tools: Investigator | None = None,
) -> TriageResult:
    """Stream the model's Markdown answer to `user` through the guard into `emit`; with
    `tools`, each turn streams and tool turns are run as in the tool loop (investigate.py)."""
    client = wizard.client
    assert client is not None
    messages, prompt_hash = await wizard.prompt(user)
    history = list(context.deploys) if context is not None else None
    guard = ChunkGuard(chunk_policy(wizard.policy(context)), history)
    shown: list[str] = []
    finals: list[ModelReply[None]] = []
    started = time.perf_counter()

    async def send(chunk: str) -> None:
        if chunk:
            shown.append(chunk)
            await emit(chunk)

    calls: list[ToolCall] = []
    usage: Usage | None = None
    try:
        async with client.deadline():
            asked: list[MessageParam] = list(messages)
            definitions = tools.tools.definitions() if tools is not None else None
            stop_tools_at = time.monotonic() + client.deadline_s * (1 - ANSWER_RESERVE)
            choice: dict[str, str] | None = None
            for _ in range(MAX_TURNS):
                async for delta in client.stream_text(
                    system=wizard.system, messages=asked, on_final=finals.append,
                    tools=definitions, tool_choice=choice,
                ):  # fmt: skip
                    await send(guard.feed(delta))
                turn = finals[-1] if finals else None
                usage = add_usage(usage, turn.usage if turn else None)
                if tools is None or turn is None or turn.stop_reason != "tool_use":
                    break
                # A tool turn: its text (if any) was streamed; its blocks go back unchanged,
                # the tools run (read-only, budgeted) and the next turn streams on.
                sent = [b.to_dict() for b in turn.content]
                asked.append(cast(MessageParam, {"role": "assistant", "content": sent}))
                results = await tools.tool_results(turn, calls, stop_tools_at, None)
                asked.append(cast(MessageParam, {"role": "user", "content": results}))
                if any(r.get("type") == "text" for r in results):
                    choice = {"type": "none"}  # budget spent: answer now (never forced)
        await send(guard.flush())
    except (TimeoutError, anthropic.AnthropicError, httpx2.HTTPError) as exc:
        # A connection cut mid-stream surfaces as the transport's error, not the SDK's.
        reply: ModelReply[Any] = (
            ModelReply(None, "api_error", f"the model's stream broke ({type(exc).__name__})")
            if isinstance(exc, httpx2.HTTPError)
            else client.failure(exc)
        )
        client.record(reply)
        reply.usage = add_usage(usage, reply.usage)
        return _fell_back(wizard, fallback, reply, prompt_hash, shown, started, calls)
    final = finals[-1] if finals else ModelReply(None, "no_answer", "the stream did not finish")
    if final.stop_reason == "tool_use":  # still calling tools after MAX_TURNS
        final = ModelReply(None, "tool_use", "the model kept calling tools", usage=usage)
    final.usage = usage
    text = "".join(shown)
    if not text.strip() or (final.cause != "ok" and final.cause not in _CUT_CAUSES):
        if final.cause == "ok":
            final = ModelReply(None, "no_answer", "the model returned no answer", usage=final.usage)
        return _fell_back(wizard, fallback, final, prompt_hash, shown, started, calls)
    notes = guard.findings.notes()
    if guard.rejected_versions:
        notes.append(
            f"Replaced {len(guard.rejected_versions)} version string(s) in the answer that the "
            "deploy history does not contain (kept in the audit record)."
        )
    if final.problem:
        notes.append(f"The answer is cut short: {final.problem}.")
    rollback = history_plan(context) if context is not None else plan_from_history(None, None)
    rollback = rollback.model_copy(
        update={"rejected_versions": [*rollback.rejected_versions, *guard.rejected_versions]}
    )
    return TriageResult(
        answer=answer_from_text(text, rollback),
        text=text,
        fallback=False,
        model=final.model,
        prompt_hash=prompt_hash,
        usage=final.usage or Usage(),
        latency_ms=int((time.perf_counter() - started) * 1000),
        notes=notes,
        tool_calls=calls,
    )


def _fell_back(
    wizard: Asker,
    fallback: Callable[[str], TriageAnswer],
    reply: ModelReply[Any],
    prompt_hash: str,
    shown: list[str],
    started: float,
    calls: list[ToolCall],
) -> TriageResult:
    reason = reply.problem or reply.cause
    kept: dict[str, Any] = {
        "latency_ms": int((time.perf_counter() - started) * 1000),
        "tool_calls": calls,
    }
    if reply.usage is not None:
        kept.update(usage=reply.usage, model=reply.model)
    result = wizard.fell_back(fallback, reason, reply.cause, prompt_hash, **kept)
    if shown:
        cut = sum(len(s) for s in shown)
        note = (
            f"The model stopped mid-answer ({reason}) after {cut} characters; the runbook "
            "answer replaced what was streamed."
        )
        result = result.model_copy(update={"notes": [*result.notes, note], "interrupted": True})
    return result
