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
from bot.triage.rollback import ABORT_CRITERIA, CHANGE_CONTROL, history_plan
from bot.triage.runbooks import Runbook

MAX_FIELD_CHARS = 120
MAX_QUESTION_RUNBOOKS = 3

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:/@=+-]{1,120}$")
_PLACEHOLDER = re.compile(r"<([a-z_][a-z0-9_]*)>")
_UNSAFE_CHARS = re.compile(r"[<>\x00-\x1f\x7f]")
_COMPLIANCE = re.compile(r"\b(SOX|MiFID|RTS ?25|17a-4|FINRA|audit|change control)\b", re.I)

UNAVAILABLE = "The model is unavailable ({reason}); here is what I can tell you"
GENERAL_VERIFICATION = [
    "Error rate, latency p99 and saturation of the service concerned are back at (or within 10% "
    "of) their pre-change baseline for 15 minutes.",
    "Every instance reports the intended version (orchestrator / health endpoint).",
    "Downstream consumers (order flow, market data, risk) show no new errors or rejects.",
]
"""Verification that holds for any production change, for answers with no runbook to say more."""
GENERAL_ABORT = [
    "Error rate or p99 rises above the pre-change baseline while the change rolls out: stop, "
    "roll back to the version in deploy history, escalate to the owner.",
    "Health checks of the new or rolled-back instances fail, or capacity drops below what the "
    "next market open needs.",
    *ABORT_CRITERIA,
]
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "Rollback",
        re.compile(
            r"\b(roll(?:ing|ed)?[ -]?back|revert|undo|downgrade|previous (?:version|build|release)"
            r"|go back)",
            re.I,
        ),
    ),
    (
        "Risk mitigation",
        re.compile(r"\b(wait|open(?:ing)?|close|auction|market|risk|safe|now|freeze|hold)\b", re.I),
    ),
    (
        "Monitoring strategy",
        re.compile(r"\b(watch|monitor\w*|metrics?|dashboards?|graphs?|thresholds?)\b", re.I),
    ),
    (
        "Success criteria",
        re.compile(r"\b(done|fixed|resolved|recovered|success\w*|over|verify|healthy)\b", re.I),
    ),
    (
        "Implementation plan",
        re.compile(r"\b(how|fix|steps?|restart|scale|fail ?over|patch|deploy|mitigate)\b", re.I),
    ),
)
"""Which runbook section a follow-up asks about, by its words (first match leads)."""
PART_OF = {
    "Immediate actions": "immediate_actions",
    "Implementation plan": "implementation_plan",
    "Monitoring strategy": "monitoring_strategy",
    "Risk mitigation": "risk_mitigation",
    "Success criteria": "success_criteria",
}
MAX_SECTION_ITEMS = 5

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


PREVIOUS = "<previous version from deploy history>"
UNKNOWN_PREVIOUS = "the previous version (confirm it in deploy history)"


def fill(text: str, values: dict[str, str]) -> str:
    """Replace `<placeholder>`s whose value is known; leave the rest for the human. The
    runbooks' `<previous version from deploy history>` becomes the target deploy history gives
    (`values["previous_version"]`), or words saying to confirm it — never the raw placeholder."""
    text = text.replace(PREVIOUS, values.get("previous_version", UNKNOWN_PREVIOUS))
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _with_target(values: dict[str, str], context: Context) -> dict[str, str]:
    """`values` plus the rollback target deploy history names (if any)."""
    plan = history_plan(context)
    if plan.target_known and plan.target_version and _SAFE_VALUE.match(plan.target_version):
        return {**values, "previous_version": plan.target_version}
    return values


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
    values = _with_target(_substitutions(alert), context)
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
        items += [prefix + fill(bullet, {}) for bullet in runbook.sections[title][:per_runbook]]
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
            summary=unavailable + " What follows is general guidance for a production change.",
            immediate_actions=[
                "Ask again when the model is back, or name a runbook with `/wizard runbook`.",
                "If this is an active incident, page the on-call owner of the affected service.",
                "Write down the scope before acting: service, environment, current version "
                "(from deploy history) and owner.",
            ],
            implementation_plan=[
                "Change one service at a time, through the CD tool (so the desired state and "
                "the previous version are recorded), outside the open, close and auctions.",
                "Roll out progressively (one instance or a canary first) and compare it with "
                "the rest before continuing.",
            ],
            monitoring_strategy=[
                "Error rate, latency p99 and saturation of the service, against the hour "
                "before the change, at 1-minute resolution.",
                "Order rejects and downstream error rates, to catch a cascading failure.",
            ],
            risk_mitigation=[
                "Make no production change during market hours on the strength of this "
                "answer alone.",
                "Know the rollback target (from deploy history) and how to undo the change "
                "before starting it.",
            ],
            rollback=RollbackPlan(
                steps=[
                    "Rollback target unknown: no deploy history was consulted; take it from "
                    "the deploy history of the service concerned."
                ],
                verification=list(GENERAL_VERIFICATION),
                abort_criteria=list(GENERAL_ABORT),
                preconditions=[CHANGE_CONTROL],
            ),
            success_criteria=list(GENERAL_VERIFICATION),
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
        rollback=RollbackPlan(
            target_version=None,
            target_known=False,
            steps=rollback_steps,
            # runbooks say how to check a fix, not a rollback: their success criteria, then the
            # checks that hold for any change; never "none".
            verification=[*_merge(chosen, "Success criteria", 2), *GENERAL_VERIFICATION[:2]],
            abort_criteria=list(GENERAL_ABORT),
            preconditions=[CHANGE_CONTROL],
        ),
        success_criteria=_merge(chosen, "Success criteria", per),
        clarifying_questions=_merge(chosen, "Clarifying questions", per),
        confidence="low",
        evidence=[f"Question: {asked}", *[f"Runbook consulted: {r.id}" for r in chosen]],
        compliance_notes=_compliance([r.sections["Risk mitigation"] for r in chosen]),
    )


def answer_for_followup(
    runbook: Runbook, context: Context, question: str, reason: str
) -> TriageAnswer:
    """A follow-up in an alert thread, model unavailable: the runbook sections the question is
    about (rollback, waiting for the open, what to watch, when it is over, how), not the whole
    runbook again — that was posted with the analysis above. Says plainly that it is not the
    model's answer."""
    values = _with_target(_substitutions(context.alert), context)
    sections = {title: _fill_all(items, values) for title, items in runbook.sections.items()}
    asked = _clean(question, 200)
    topics = [title for title, pattern in _TOPICS if pattern.search(question)]
    rollback = _rollback(runbook, context, values)
    lead: list[str] = []
    if "Rollback" in topics:
        target = rollback.target_version if rollback.target_known else None
        lead.append(
            f"Rollback target from deploy history: {target}."
            if target
            else "Rollback target unknown — confirm it from deploy history before rolling back."
        )
        lead += sections["Rollback"][:MAX_SECTION_ITEMS]
    if "Risk mitigation" in topics:
        lead += context.guidance  # market session, freeze: what decides "now or wait"
    parts: dict[str, list[str]] = {field: [] for field in PART_OF.values()}
    for title in topics:
        if title in PART_OF:
            parts[PART_OF[title]] = sections[title][:MAX_SECTION_ITEMS]
    if not topics:  # nothing recognisable: the first steps again, and a question back
        parts["immediate_actions"] = sections["Immediate actions"][:MAX_SECTION_ITEMS]
    immediate = [*lead, *parts["immediate_actions"]] or [*sections[topics[0]][:MAX_SECTION_ITEMS]]
    unchanged = f"Unchanged: see the analysis above (runbook {runbook.id})."
    shown = ", ".join(topics) if topics else "Immediate actions"
    return TriageAnswer(
        summary=(
            UNAVAILABLE.format(reason=_clean(reason, 200))
            + f" about “{asked}”, from runbook {runbook.id} ({runbook.title}): its {shown} "
            "section(s). Not a tailored answer; the rest of the runbook is in the analysis above."
        ),
        immediate_actions=immediate,
        implementation_plan=parts["implementation_plan"] or [unchanged],
        monitoring_strategy=parts["monitoring_strategy"] or [unchanged],
        risk_mitigation=parts["risk_mitigation"] or [unchanged],
        rollback=rollback,
        success_criteria=parts["success_criteria"] or [unchanged],
        clarifying_questions=(sections["Clarifying questions"][:2] if not topics else []),
        confidence="low",
        evidence=[f"Question: {asked}", f"Runbook consulted: {runbook.id} ({shown})"],
        compliance_notes=list(DEFAULT_COMPLIANCE),
    )
