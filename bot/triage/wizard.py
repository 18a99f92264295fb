"""The wizard: persona, prompts and the checks an answer must pass.

It builds a byte-stable, cached system prefix (persona + answer template + runbook catalogue),
puts the alert's context after it with the alert text wrapped and labelled as untrusted data,
asks the model client (bot/triage/llm.py: thinking, effort, stop reasons, deadline) for a
structured `TriageAnswer`, checks the answer against the facts (a rollback target must come from
deploy history), and falls back to the matched runbook when the model is missing, failing, past
`WIZARD_LLM_DEADLINE_S` or stopped without a usable answer — with the reason, and with the call's
usage and cost kept for the audit record. It never returns without an answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from anthropic.types import MessageParam, TextBlockParam

from bot import metrics
from bot.context.pseudonyms import Pseudonyms
from bot.context.store import Turn
from bot.evidence.models import ToolCall
from bot.evidence.render import model_text, with_measured
from bot.models import Context, TriageAnswer, TriageResult
from bot.redact import redact, redact_obj, redact_thorough
from bot.triage.facts import fact_values, load_template
from bot.triage.facts import render as render_facts
from bot.triage.fallback import answer_for_followup, answer_for_question, answer_from_runbook
from bot.triage.guard import GuardPolicy, context_hosts, guard_answer, hold_versions
from bot.triage.investigate import Investigator, Step
from bot.triage.llm import ModelClient
from bot.triage.prompts import Prompts
from bot.triage.rollback import history_plan, plan_from_history
from bot.triage.runbooks import FALLBACK_FLOOR_PCT, Runbook, RunbookCatalog
from bot.triage.streaming import Emit, stream_answer
from bot.triage.untrusted import wrap_untrusted
from bot.triage.versions import allowed_versions, check_model_plan

log = structlog.get_logger(__name__)

CHARS_PER_TOKEN = 4


def _hash(payload: object) -> str:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class Wizard:
    """Answers alerts, follow-ups and free-form questions, with or without a model."""

    def __init__(
        self,
        *,
        prompts: Prompts,
        catalog: RunbookCatalog,
        client: ModelClient | None,
        memory_tokens: int = 6000,
        runbook_base_url: str | None = None,
        pseudonyms: Pseudonyms | None = None,
        allow_mass_mentions: bool = False,
        allowed_link_domains: frozenset[str] = frozenset(),
        facts_template: str | None = None,
        investigator: Investigator | None = None,
    ) -> None:
        self.prompts = prompts
        self.investigator = investigator
        """Read-only tools for triage (None or a zero budget: one structured call, no tools)."""
        self.catalog = catalog
        self.client = client
        self.memory_tokens = memory_tokens
        self.runbook_base_url = runbook_base_url
        self.pseudonyms = pseudonyms
        self.allow_mass_mentions = allow_mass_mentions
        self.allowed_link_domains = frozenset(d.lower().strip(".") for d in allowed_link_domains)
        self.facts_template = facts_template or load_template()
        self.system_text = "\n\n".join(
            [
                prompts.persona.strip(),
                prompts.answer_template.strip(),
                "# Runbook catalogue\n" + catalog.catalogue_text().strip(),
            ]
        )

    @property
    def system(self) -> list[TextBlockParam]:
        """The cached prefix: identical bytes on every call, so the prompt cache hits."""
        return [{"type": "text", "text": self.system_text, "cache_control": {"type": "ephemeral"}}]

    # --- public entry points ----------------------------------------------------------------
    def _with_runbook(self, context: Context) -> tuple[Runbook, Context]:
        """Pick the runbook deterministically and record it (with its score) in the context."""
        runbook, score = self.catalog.match(context.alert)
        ref = self.catalog.ref(runbook, self.runbook_base_url).model_copy(update={"score": score})
        return runbook, context.model_copy(update={"runbook": ref})

    async def triage(
        self, context: Context, *, skip_model: str | None = None, on_step: Step | None = None
    ) -> TriageResult:
        """Triage one alert (with its group). `skip_model` is why the model must not be asked
        (the incident's LLM budget is spent): the runbook answer is given with that reason.
        With tools, `on_step("querying Prometheus: …")` is awaited before each tool call."""
        runbook, context = self._with_runbook(context)
        alerts = [a.model_dump(mode="json") for a in [context.alert, *context.group]]
        tools = self._tools()
        user = "\n\n".join(
            [
                "Task: triage the alert below for the on-call engineers, in the answer format.",
                *([tools.instructions()] if tools else []),
                self._facts(context),
                # ensure_ascii=False: a `\u200b` escape would hide invisible characters (and the
                # secrets they split) from `neutralise` and `redact`.
                wrap_untrusted("alert", json.dumps(alerts, indent=1, ensure_ascii=False)),
            ]
        )
        result = await self._ask(
            user,
            fallback=lambda reason: answer_from_runbook(runbook, context, reason),
            context=context,
            skip_model=skip_model,
            tools=tools,
            on_step=on_step,
        )
        if not result.fallback and context.evidence is not None:
            # The bot's own readings lead the evidence whatever the model cited: the live value
            # of the alert's query is in every analysis (the fallback puts them in itself).
            answer = result.answer.model_copy(
                update={"evidence": with_measured(result.answer.evidence, context.evidence)}
            )
            result = result.model_copy(update={"answer": answer})
        return result.model_copy(update={"runbook": context.runbook})

    async def followup(
        self,
        question: str,
        turns: Sequence[Turn],
        context: Context | None,
        *,
        skip_model: str | None = None,
        on_text: Emit | None = None,
    ) -> TriageResult:
        """Answer a thread follow-up; `skip_model` as in `triage` (the hourly or per-user
        budget is spent). With `on_text` the answer is streamed: Markdown, each guarded chunk
        awaited through `on_text` as it is written (bot/triage/streaming.py)."""
        parts = [self.prompts.followup.strip()]
        runbook = None
        if context is not None:
            runbook, context = self._with_runbook(context)
            parts += [
                self._facts(context),
                wrap_untrusted("alert", context.alert.model_dump_json(indent=1)),
            ]
        streamed = on_text is not None and self.client is not None and not skip_model
        tools = self._tools()
        parts += [
            *([tools.instructions()] if tools else []),
            wrap_untrusted("thread", self._transcript(turns)),
            wrap_untrusted("question", question),
        ]

        def fallback(reason: str) -> TriageAnswer:
            if runbook is not None and context is not None:
                # the sections the question is about, not the whole runbook again
                return answer_for_followup(runbook, context, question, reason)
            matches = self.catalog.search(question, floor_pct=FALLBACK_FLOOR_PCT)
            return answer_for_question(matches, question, reason)

        if streamed:
            assert on_text is not None
            parts.append(self.prompts.streamed.strip())
            result = await stream_answer(
                self, "\n\n".join(parts), context=context, fallback=fallback, emit=on_text,
                tools=tools,
            )  # fmt: skip
            return result.model_copy(update={"runbook": context.runbook if context else None})
        result = await self._ask(
            "\n\n".join(parts),
            fallback=fallback,
            context=context,
            tools=tools,
            skip_model=skip_model,
        )
        return result.model_copy(update={"runbook": context.runbook if context else None})

    async def question(
        self,
        question: str,
        *,
        skip_model: str | None = None,
        on_text: Emit | None = None,
        incidents: str | None = None,
    ) -> TriageResult:
        """A free-form question; `on_text` streams the answer as in `followup`. `incidents`:
        the open incidents, one per line (asked in a DM or the assistant pane, whose prompts
        name them), shown as data — their titles are alert text."""
        streamed = on_text is not None and self.client is not None and not skip_model
        tools = self._tools()
        user = "\n\n".join(
            [
                self.prompts.question.strip(),
                f"Now (UTC): {datetime.now(UTC).isoformat(timespec='minutes')}",
                *([tools.instructions()] if tools else []),
                *([wrap_untrusted("open_incidents", incidents)] if incidents else []),
                wrap_untrusted("question", question),
                *([self.prompts.streamed.strip()] if streamed else []),
            ]
        )
        matches = self.catalog.search(question)
        close = self.catalog.search(question, floor_pct=FALLBACK_FLOOR_PCT)
        if streamed:
            assert on_text is not None
            result = await stream_answer(
                self,
                user,
                context=None,
                fallback=lambda reason: answer_for_question(close, question, reason),
                emit=on_text,
                tools=tools,
            )
            ref = self.catalog.ref(matches[0], self.runbook_base_url) if matches else None
            return result.model_copy(update={"runbook": ref})
        result = await self._ask(
            user,
            fallback=lambda reason: answer_for_question(close, question, reason),
            context=None,
            tools=tools,
            skip_model=skip_model,
        )
        ref = self.catalog.ref(matches[0], self.runbook_base_url) if matches else None
        return result.model_copy(update={"runbook": ref})

    # --- internals --------------------------------------------------------------------------
    def _tools(self) -> Investigator | None:
        """The tool loop when tools are configured and the budget allows any call."""
        return self.investigator if self.investigator and self.investigator.max_calls else None

    def _facts(self, context: Context) -> str:
        """Trusted facts from the bot's own store (deploys come from the authenticated hook)."""
        plan = history_plan(context)
        values = fact_values(context, plan.deploy if context.deploys else None, plan.target_version)
        lines = [render_facts(self.facts_template, values)]
        # Alert names, services and past model answers are attacker-reachable (a past answer may
        # echo an injected alert): they go to the model as data, never inside the trusted facts.
        history: list[str] = []
        if context.related:
            history.append("related_alerts (same service or recent):")
            history += [
                f"- {r.alert.name} status={r.alert.status} severity={r.alert.severity} "
                f"service={r.alert.service} last_seen={r.last_seen.isoformat()}"
                for r in context.related
            ]
        if context.past_answers:
            history.append("past_answers for this fingerprint:")
            history += [
                f"- {p.at.date().isoformat()}: {p.summary} (fallback={p.fallback})"
                for p in context.past_answers
            ]
        if context.past_incidents:
            history.append("past_incidents of this service/alert (newest first):")
            history += [
                f"- {o.resolved_at.date().isoformat()} {o.incident_id} lasted "
                f"{int(o.duration_s // 60)}m, resolved by {o.resolved_by}; "
                + (f"fixed by: {o.fix_note[:300]}" if o.fix_note else "no fix recorded")
                + (
                    f"; advised then: {'; '.join(a[:120] for a in o.advised[:2])}"
                    if o.advised
                    else ""
                )
                for o in context.past_incidents
            ]
        if history:
            lines += ["", wrap_untrusted("history", "\n".join(history))]
        if context.evidence is not None:
            # Measured values, but labels, alert expressions and Alertmanager text come from
            # outside: data to read, never instructions.
            lines += ["", wrap_untrusted("evidence", model_text(context.evidence))]
        return redact("\n".join(lines))

    def _transcript(self, turns: Sequence[Turn]) -> str:
        """Newest turns that fit the memory budget, oldest first."""
        budget = self.memory_tokens * CHARS_PER_TOKEN
        kept: list[str] = []
        for turn in reversed(turns):
            line = f"[{turn.role}{' ' + turn.user if turn.user else ''}] {turn.text}"
            if len(line) > budget:
                line = line[:budget]
            budget -= len(line)
            if budget < 0:
                break
            kept.append(line)
        return "\n".join(reversed(kept)) or "(no earlier turns)"

    @staticmethod
    def _allowed_versions(context: Context) -> set[str]:
        return allowed_versions(context.deploys)

    def policy(self, context: Context | None) -> GuardPolicy:
        """What a model-written text may contain here (links: runbook and configured hosts)."""
        return GuardPolicy(
            allowed_hosts=context_hosts(context, [self.runbook_base_url]),
            allowed_domains=self.allowed_link_domains,
            allow_mass_mentions=self.allow_mass_mentions,
        )

    def _check(
        self, answer: TriageAnswer, context: Context | None
    ) -> tuple[TriageAnswer, list[str]]:
        """Hold the model to the facts: every version in the rollback plan must be in history.

        The output guard runs first: it assumes an injection may have worked and strips
        mentions, foreign links and secrets before anything below (or Slack) sees the answer.
        A plan naming any other version is replaced by the plan built from deploy history.
        """
        answer, notes = guard_answer(answer, self.policy(context))
        if context is not None:
            history, fallback_plan = list(context.deploys), history_plan(context)
        else:
            history, fallback_plan = [], plan_from_history(None, None)
        rollback, rollback_notes = check_model_plan(answer.rollback, history, fallback_plan)
        notes += rollback_notes
        answer = answer.model_copy(update={"rollback": rollback})
        if context is not None:
            # the free text is held to deploy history like the plan: no invented version posted
            answer, version_notes = hold_versions(answer, history)
            notes += version_notes
        return TriageAnswer.model_validate(redact_obj(answer.model_dump())), notes

    async def prompt(self, user: str) -> tuple[list[MessageParam], str]:
        """The user turn as sent (pseudonymised, redacted) and the prompt's hash."""
        if self.pseudonyms is not None:
            user = await self.pseudonyms.protect(user)  # trading ids → reversible tokens
        user = redact_thorough(user)
        messages: list[MessageParam] = [{"role": "user", "content": user}]
        model = self.client.model if self.client is not None else None
        return messages, _hash({"model": model, "system": self.system, "messages": messages})

    @staticmethod
    def fell_back(
        fallback: Callable[[str], TriageAnswer],
        reason: str,
        cause: str,
        prompt_hash: str,
        **kept: Any,
    ) -> TriageResult:
        """The runbook answer, with why the model's was not given."""
        log.warning("wizard_fallback", reason=reason, prompt_hash=prompt_hash[:16])
        metrics.FALLBACKS.labels(cause).inc()
        return TriageResult(
            answer=fallback(reason),
            fallback=True,
            fallback_reason=reason,
            prompt_hash=prompt_hash,
            **kept,
        )

    async def _ask(
        self,
        user: str,
        *,
        fallback: Callable[[str], TriageAnswer],
        context: Context | None,
        skip_model: str | None = None,
        tools: Investigator | None = None,
        on_step: Step | None = None,
    ) -> TriageResult:
        messages, prompt_hash = await self.prompt(user)

        def fell_back(reason: str, cause: str, **kept: Any) -> TriageResult:
            return self.fell_back(fallback, reason, cause, prompt_hash, **kept)

        if self.client is None:
            return fell_back("no ANTHROPIC_API_KEY configured", "no_api_key")
        if skip_model:
            return fell_back(skip_model, "budget")
        calls: list[ToolCall] = []
        if tools is not None:
            investigation = await tools.run(
                system=self.system, messages=messages, output=TriageAnswer, on_step=on_step
            )
            reply, calls = investigation.reply, investigation.calls
        else:
            reply = await self.client.structured(
                system=self.system, messages=messages, output=TriageAnswer
            )
        kept: dict[str, Any] = {"latency_ms": reply.latency_ms, "tool_calls": calls}
        if reply.usage is not None:  # the call was made and billed: keep what it cost
            kept.update(usage=reply.usage, model=reply.model)
        if reply.parsed is None:
            return fell_back(reply.problem or reply.cause, reply.cause, **kept)
        answer, notes = self._check(reply.parsed, context)
        return TriageResult(
            answer=answer, fallback=False, prompt_hash=prompt_hash, notes=notes, **kept
        )
