"""Answers built from runbooks alone, for when the model is missing, slow or wrong.

An alert must never go unanswered because an API is down, so the fallback produces the same
five-part `TriageAnswer` the model would, from the matched runbook's sections and the facts in the
`Context`. It never guesses: the rollback target comes only from deploy history, and is declared
unknown otherwise. Text copied from the alert is cleaned before it lands in the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.evidence.render import MONITORING, evidence_lines
from bot.models import Alert, Context, RollbackPlan, TriageAnswer
from bot.triage.rollback import history_plan
from bot.triage.runbooks import Runbook

MAX_FIELD_CHARS = 120
MAX_QUESTION_RUNBOOKS = 3

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:/@=+-]{1,120}$")
_PLACEHOLDER = re.compile(r"<([a-z_][a-z0-9_]*)>")
_UNSAFE_CHARS = re.compile(r"[<>\x00-\x1f\x7f]")
_COMPLIANCE = re.compile(r"\b(SOX|MiFID|RTS ?25|17a-4|FINRA|audit|change control)\b", re.I)

DEFAULT_COMPLIANCE = [
    "Keep this thread and every command run as the incident record (SEC 17a-4 / MiFID II "
    "record keeping); do not delete or edit messages.",
    "Any production change (restart, rollback, config) needs a change ticket or an emergency "
    "change approval recorded afterwards (SOX change control).",
]


def _clean(text: str | None, limit: int = MAX_FIELD_CHARS) -> str:
    """Alert-sourced text without markup characters, bounded, for evidence and summaries."""
    value = _UNSAFE_CHARS.sub("", text or "").strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _substitutions(alert: Alert) -> dict[str, str]:
    """Placeholder → value, only for values that are plainly identifiers."""
    values: dict[str, str] = {}
    for key, value in sorted(alert.labels.items()):
        if _SAFE_VALUE.match(value or ""):
            values[key.lower()] = value
    known: dict[str, str | None] = {
        "service": alert.service,
        "environment": alert.environment,
        "env": alert.environment,
        "alertname": alert.name,
    }
    for key, known_value in known.items():
        if known_value and _SAFE_VALUE.match(known_value):
            values[key] = known_value
    return values


def fill(text: str, values: dict[str, str]) -> str:
    """Replace `<placeholder>`s whose value is known; leave the rest for the human."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _fill_all(items: Sequence[str], values: dict[str, str]) -> list[str]:
    return [fill(item, values) for item in items]


def _rollback(runbook: Runbook, context: Context, values: dict[str, str]) -> RollbackPlan:
    """The deploy-history plan (see `bot/triage/rollback.py`) plus the runbook's own steps."""
    return history_plan(context, runbook_steps=_fill_all(runbook.sections["Rollback"], values))


def _evidence(context: Context, runbook: Runbook) -> list[str]:
    """The live readings first (the lines a model answer leads with), then the store's facts
    (deploys and past answers are listed below, so the pack's own lines for them are not)."""
    alert = context.alert
    facts = [
        *evidence_lines(context.evidence, MONITORING),
        f"Alert {_clean(alert.name)} is {alert.status} with severity {alert.severity} "
        f"(source {alert.source}).",
        f"Service: {_clean(alert.service) or 'unknown'}; environment: "
        f"{_clean(alert.environment) or 'unknown'}.",
    ]
    if alert.starts_at:
        facts.append(f"Started at {alert.starts_at.isoformat()}.")
    if context.record:
        facts.append(
            f"Seen {context.record.occurrences} time(s) since "
            f"{context.record.first_seen.isoformat()}."
        )
    if context.group:
        facts.append(f"{len(context.group)} other alert(s) arrived in the same group.")
    if context.deploys:
        for deploy in sorted(context.deploys, key=lambda d: d.at, reverse=True)[:5]:
            facts.append(
                f"Deploy: {_clean(deploy.service)} {_clean(deploy.previous_version) or '?'} -> "
                f"{_clean(deploy.version)} in {_clean(deploy.environment)} by "
                f"{_clean(deploy.actor)} at {deploy.at.isoformat()}."
            )
    else:
        facts.append("No deploys of this service are recorded in the lookback window.")
    if context.related:
        facts.append(f"{len(context.related)} related alert(s) on the same service or recent.")
    if context.past_answers:
        latest = max(context.past_answers, key=lambda p: p.at)
        facts.append(
            f"{len(context.past_answers)} earlier answer(s) for this alert; latest on "
            f"{latest.at.date().isoformat()}: {_clean(latest.summary, 200)}"
        )
    facts.append(f"Matched runbook: {runbook.id} ({runbook.title}).")
    return facts


def _compliance(sections: Sequence[Sequence[str]]) -> list[str]:
    notes: list[str] = []
    for bullets in sections:
        for bullet in bullets:
            if _COMPLIANCE.search(bullet) and bullet not in notes:
                notes.append(bullet)
    for note in DEFAULT_COMPLIANCE:
        if note not in notes:
            notes.append(note)
    return notes


def answer_from_runbook(runbook: Runbook, context: Context, reason: str) -> TriageAnswer:
    """A complete five-part answer from `runbook` and the facts in `context`, no model needed."""
    alert = context.alert
    values = _substitutions(alert)
    sections = {title: _fill_all(items, values) for title, items in runbook.sections.items()}
    immediate = list(sections["Immediate actions"])
    if alert.status == "resolved":
        immediate.insert(
            0,
            "The alert is RESOLVED: confirm recovery on the dashboard and record the cause "
            "before closing; the steps below apply if it fires again.",
        )
    where = _clean(alert.service) or "an unknown service"
    if alert.environment:
        where += f" ({_clean(alert.environment)})"
    summary = (
        f"Runbook fallback ({runbook.id}: {runbook.title}) because {_clean(reason, 200)}. "
        f"{_clean(alert.name)} is {alert.status} ({alert.severity}) on {where}; "
        "steps below are the runbook's, not a model's analysis."
    )
    compliance = _compliance(
        [sections[t] for t in ("Immediate actions", "Implementation plan", "Risk mitigation")]
        + [sections["Rollback"]]
    )
    return TriageAnswer(
        summary=summary,
        immediate_actions=immediate,
        implementation_plan=sections["Implementation plan"],
        monitoring_strategy=sections["Monitoring strategy"],
        # The firm's calendars speak first: a freeze or an auction changes what is safe to do.
        risk_mitigation=[*context.guidance, *sections["Risk mitigation"]],
        rollback=_rollback(runbook, context, values),
        success_criteria=sections["Success criteria"],
        clarifying_questions=sections["Clarifying questions"],
        confidence="low",
        evidence=_evidence(context, runbook),
        compliance_notes=compliance,
    )


def _merge(runbooks: Sequence[Runbook], title: str, per_runbook: int) -> list[str]:
    items: list[str] = []
    for runbook in runbooks:
        prefix = f"[{runbook.id}] " if len(runbooks) > 1 else ""
        items += [prefix + bullet for bullet in runbook.sections[title][:per_runbook]]
    return items


def answer_for_question(runbooks: Sequence[Runbook], question: str, reason: str) -> TriageAnswer:
    """Best-effort answer to a free-form question from the closest runbooks, model unavailable."""
    chosen = list(runbooks[:MAX_QUESTION_RUNBOOKS])
    asked = _clean(question, 200)
    if not chosen:
        unavailable = (
            f"The model is unavailable ({_clean(reason, 200)}) and no runbook matches the "
            "question, so there is no grounded answer to give."
        )
        return TriageAnswer(
            summary=unavailable,
            immediate_actions=[
                "Ask again when the model is back, or name a runbook with `/wizard runbook`.",
                "If this is an active incident, page the on-call owner of the affected service.",
            ],
            implementation_plan=["Not available without the model or a matching runbook."],
            monitoring_strategy=["Not available without the model or a matching runbook."],
            risk_mitigation=[
                "Make no production change during market hours on the strength of this "
                "answer alone."
            ],
            rollback=RollbackPlan(
                steps=["Rollback target unknown: no deploy history was consulted."],
            ),
            success_criteria=["Not available without the model or a matching runbook."],
            clarifying_questions=[
                "Which service, environment and alert (if any) is this about?",
            ],
            confidence="low",
            evidence=[f"Question: {asked}", "No runbook matched the question's keywords."],
            compliance_notes=list(DEFAULT_COMPLIANCE),
        )
    per = 6 if len(chosen) == 1 else 3
    names = ", ".join(f"{r.id} ({r.title})" for r in chosen)
    summary = (
        f"The model is unavailable ({_clean(reason, 200)}); this is runbook content only, from "
        f"{names}. It is not a tailored answer to the question."
    )
    rollback_steps = [
        "Rollback target unknown: free-form questions carry no deploy history; take the "
        "target only from the deploy history of the service concerned.",
        *_merge(chosen, "Rollback", per),
    ]
    return TriageAnswer(
        summary=summary,
        immediate_actions=_merge(chosen, "Immediate actions", per),
        implementation_plan=_merge(chosen, "Implementation plan", per),
        monitoring_strategy=_merge(chosen, "Monitoring strategy", per),
        risk_mitigation=_merge(chosen, "Risk mitigation", per),
        rollback=RollbackPlan(target_version=None, target_known=False, steps=rollback_steps),
        success_criteria=_merge(chosen, "Success criteria", per),
        clarifying_questions=_merge(chosen, "Clarifying questions", per),
        confidence="low",
        evidence=[f"Question: {asked}", *[f"Runbook consulted: {r.id}" for r in chosen]],
        compliance_notes=_compliance([r.sections["Risk mitigation"] for r in chosen]),
    )
