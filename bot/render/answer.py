"""The wizard's answer in Slack: a first screen that reads in ten seconds, then the full plan.

At 03:00 on a phone nobody reads an 80-line reply. So an answer is two messages in the thread:

1. **The first screen** (≤ `FIRST_SCREEN_MAX` visible characters): what is happening (summary),
   why it matters now (impact/session line, one severity with the reason it was raised), the top
   three immediate actions, the rollback target — or "unknown — confirm from deploy history" —,
   confidence, and the buttons (incident actions, feedback). It is the message that notifies.
2. **The full plan**: all five parts (`bot.answer.PARTS`, never dropped), the rollback plan and
   what changed, the extras (clarifying questions, evidence, compliance), runbook and cost.

Pure functions over a `TriageResult` and an `AnswerFrame` (the trusted facts the pipeline adds);
`bot/render/markdown.py` renders the same two screens for `wizard triage`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC

from bot.answer import EXTRAS, FIRST_SCREEN_ACTIONS, PARTS, Part
from bot.models import Alert, Deploy, RollbackPlan, TriageResult
from bot.render.feedback import feedback_block, wrong_runbook_button
from bot.render.format import duration_ms, money, severity_label
from bot.render.limits import (
    Block,
    Blocks,
    Message,
    context,
    divider,
    fit_blocks,
    header,
    notification,
    section,
    visible_chars,
)
from bot.render.mrkdwn import MAX_ITEM, NONE, bullets, code, cut, escape_mrkdwn, link, safe_url
from bot.text import subject

FIRST_SCREEN_MAX = 2000
"""Visible characters of the first screen: what one phone screen shows."""
MAX_SUMMARY_FIRST = 420
MAX_META = 300
MAX_VERSION = 100
PART_BUDGET = 1000
ROLLBACK_BUDGET = 1800
PLAN_SUMMARY = 800
PLAN_FACTS = 1000
EXTRA_BUDGET = 2500
"""Characters per part of the full plan, so one runaway part cannot push another out of the
message (Slack's ~12k total): all five parts are always there, each cut with a visible note."""
ACTION_LIMITS = (240, 170, 110)
"""Per-action cuts on the first screen, tried in order until it fits `FIRST_SCREEN_MAX`."""
ACTION_ACK = "wizard_ack"
ACTION_RERUN = "wizard_rerun"
ACTION_RUNBOOK = "wizard_runbook"


@dataclass(frozen=True)
class AnswerFrame:
    """What the pipeline knows around an answer, all trusted (catalog, calendars, history).

    `headline` is the short impact/session line ("tier 1 · EU order entry · XLON opens in 12
    min"); `facts` the full fact lines for the plan; `raised_from`/`severity_reason` say why the
    severity shown differs from the source's; `incident_id` adds the incident buttons and
    `answer_ref` (job and slot of the answer) the feedback buttons.
    """

    title: str
    headline: str | None = None
    severity: str | None = None
    raised_from: str | None = None
    severity_reason: str | None = None
    facts: Sequence[str] = ()
    changes: Sequence[Deploy] | None = None
    changes_window_h: float = 24.0
    incident_id: str | None = None
    answer_ref: str | None = None
    links: Sequence[tuple[str | None, str]] = field(default_factory=tuple)
    measured: Block | None = None
    """The evidence pack's "Measured now" section (`bot/render/evidence.py`), shown in the full
    plan under the summary; its lines in the answer's evidence (`hide_evidence`) are then not
    listed twice."""
    hide_evidence: Collection[str] = ()


@dataclass(frozen=True)
class RenderedAnswer:
    """The two messages of one answer: `first` notifies, `plan` follows in the same thread."""

    first: Message
    plan: Message


def frame_for(alert: Alert | None, heading: str | None = None, **details: object) -> AnswerFrame:
    """The usual frame: `heading`, else "<alert> on <service>", else "Wizard answer"."""
    if heading:
        title = heading
    elif alert is not None:
        title = subject(alert.name, alert.service)
    else:
        title = "Wizard answer"
    links: tuple[tuple[str | None, str], ...] = ()
    if alert is not None:
        links = (
            (alert.links.source, "source"),
            (alert.links.dashboard, "dashboard"),
            (alert.links.runbook, "alert runbook"),
        )
    severity = details.pop("severity", None) or (alert.severity if alert else None)
    return AnswerFrame(title=title, severity=str(severity) if severity else None, links=links,
                       **details)  # type: ignore[arg-type]  # fmt: skip


# --------------------------------------------------------------------------- shared pieces


def known_rollback_version(result: TriageResult) -> str | None:
    """The rollback version to show, or None: only a version taken from deploy history counts."""
    plan = result.answer.rollback
    if plan.target_version and plan.target_version.strip() and plan.target_known:
        return plan.target_version
    return None


def rollback_target(result: TriageResult) -> str:
    """The rollback target as mrkdwn: only a version taken from deploy history is ever shown."""
    version = known_rollback_version(result)
    if version is not None:
        return f"{code(cut(version, MAX_VERSION, markup=False))} (from deploy history)"
    return "*unknown — confirm from deploy history* before rolling back"


def rollback_note(plan: RollbackPlan) -> str | None:
    """One line on where the plan came from, when that is worth saying."""
    if plan.replaced:
        # the invented versions are kept for the audit record, never shown (issue 12)
        count = len([v for v in plan.rejected_versions if v]) or 1
        return (
            f"The model's plan named {count} version(s) not in deploy history (kept in the audit "
            "record, never shown); replaced with the plan built from deploy history."
        )
    if plan.source == "history" and plan.deploy is None:
        return "No deploy of this service is recorded before the alert started: target unknown."
    return None


def footer_text(result: TriageResult) -> str:
    """Model, latency, tokens and cost: what the answer cost, visible to the people using it."""
    usage = result.usage
    parts = [
        (
            f"model {code(cut(result.model, MAX_META, markup=False))}"
            if result.model
            else "no model (runbook fallback)"
        ),
        f"latency {duration_ms(result.latency_ms)}",
        (
            f"tokens in {usage.input_tokens:,} · out {usage.output_tokens:,} · "
            f"cache read {usage.cache_read_input_tokens:,} · "
            f"cache write {usage.cache_creation_input_tokens:,}"
        ),
        f"cost {money(usage.cost_usd)}",
    ]
    if result.prompt_hash:
        parts.append(f"prompt {code(result.prompt_hash[:12])}")
    return " · ".join(parts)


def _severity(frame: AnswerFrame) -> str:
    if not frame.severity:
        return ""
    reason = cut(frame.severity_reason or "", 160, markup=False) or None
    return escape_mrkdwn(severity_label(frame.severity, frame.raised_from, reason))


def _fallback_line(result: TriageResult) -> str:
    reason = cut(escape_mrkdwn(result.fallback_reason or "no reason recorded").strip(), MAX_META)
    return f"⚠️ *Runbook fallback* — the model was unavailable: {reason or 'unknown'}"


def _links(frame: AnswerFrame) -> str:
    return " · ".join(link(url, label) for url, label in frame.links if safe_url(url))


# --------------------------------------------------------------------------- first screen


def buttons(frame: AnswerFrame) -> Blocks:
    """The answer's buttons: incident actions (with an incident), wrong runbook, feedback."""
    elements: list[Block] = []
    if frame.incident_id:
        for action_id, label in (
            (ACTION_ACK, "👀 Acknowledge"),
            (ACTION_RERUN, "🔁 Re-run analysis"),
            (ACTION_RUNBOOK, "📖 Show runbook"),
        ):
            elements.append(
                {
                    "type": "button",
                    "action_id": action_id,
                    "text": {"type": "plain_text", "text": label, "emoji": True},
                    "value": frame.incident_id,
                }
            )
    if frame.answer_ref:
        elements.append(wrong_runbook_button(frame.answer_ref))
    blocks: Blocks = []
    if elements:
        blocks.append({"type": "actions", "block_id": "wizard_answer", "elements": elements})
    if frame.answer_ref:
        blocks.append(feedback_block(frame.answer_ref))
    return blocks


def _first_blocks(result: TriageResult, frame: AnswerFrame, action_limit: int) -> Blocks:
    answer = result.answer
    summary = cut(escape_mrkdwn(answer.summary).strip(), MAX_SUMMARY_FIRST) or "_No summary given._"
    facts = [
        _severity(frame),
        escape_mrkdwn(cut(frame.headline or "", 240, markup=False)),
        f"confidence *{answer.confidence}*",
    ]
    actions = [a for a in answer.immediate_actions if a.strip()][:FIRST_SCREEN_ACTIONS]
    more = len([a for a in answer.immediate_actions if a.strip()]) - len(actions)
    do_now = bullets(actions, numbered=True, limit=action_limit)
    blocks: Blocks = [header(f"🧙 {frame.title}"), section(summary), context(*facts)]
    if result.fallback:
        blocks.append(context(_fallback_line(result)))
    blocks.append(
        section("*Do now*\n" + do_now + (f"\n_+{more} more in the plan below_" if more > 0 else ""))
    )
    blocks.append(section(f"*Rollback target:* {rollback_target(result)}"))
    blocks.append(context("📋 The full plan (all five parts) follows in this thread."))
    return [*blocks, *buttons(frame)]


def first_screen(result: TriageResult, frame: AnswerFrame) -> Message:
    """The message that notifies: ≤ `FIRST_SCREEN_MAX` visible characters."""
    for limit in ACTION_LIMITS:
        blocks = fit_blocks(_first_blocks(result, frame, limit))
        if visible_chars(blocks) <= FIRST_SCREEN_MAX:
            break
    actions = [a for a in result.answer.immediate_actions if a.strip()][:FIRST_SCREEN_ACTIONS]
    do_now = "; ".join(cut(escape_mrkdwn(a).strip(), 200) for a in actions)
    text = notification(
        escape_mrkdwn(f"🧙 {frame.title}") + (" (runbook fallback)" if result.fallback else ""),
        cut(escape_mrkdwn(result.answer.summary).strip(), 500),
        f"Do now: {do_now}" if actions else "",
    )
    return blocks, text


# --------------------------------------------------------------------------- the full plan


def _deploy_line(deploy: Deploy) -> str:
    when = deploy.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    change = f"{deploy.previous_version or '?'} → {deploy.version}"
    how = f" ({deploy.strategy})" if deploy.strategy else ""
    return escape_mrkdwn(
        f"{when} · {deploy.service} {change} · {deploy.environment} · by {deploy.actor}{how}"
    )


def what_changed(deploys: Sequence[Deploy], window_h: float) -> Block:
    """Deploys to the affected service in the window, newest first: who changed what, when."""
    if deploys:
        lines = [f"• {_deploy_line(d)}" for d in deploys[:5]]
        if len(deploys) > 5:
            lines.append(f"…and {len(deploys) - 5} earlier")
        body = "\n".join(lines)
    else:
        body = (
            f"_No deploy of this service recorded in the last {window_h:g} h (via /hooks/deploy)._"
        )
    return section(f"*What changed*\n{body}")


def bounded(
    items: Sequence[str], budget: int, *, numbered: bool = False, item_limit: int | None = None
) -> str:
    """`bullets`, keeping whole items while they fit `budget`, then "…N more" (the full list
    is in the audit record and `wizard triage`). Items are cut at `item_limit` (default: half
    the budget) so one runaway item cannot take the whole share."""
    limit = item_limit or min(MAX_ITEM, max(200, budget // 2))
    kept: list[str] = []
    used = 0
    listed = [i for i in items if i.strip()]
    for item in listed:
        line = bullets([item], limit=limit)
        if kept and used + len(line) + 1 > budget:
            break
        kept.append(item)
        used += len(line) + 1
    text = bullets(kept, numbered=numbered, limit=limit)
    if len(listed) > len(kept):
        text += f"\n_…{len(listed) - len(kept)} more, {TRUNCATED_HINT}_"
    return text if kept else NONE


TRUNCATED_HINT = "see the audit record / `wizard triage`"


def rollback_section(result: TriageResult) -> Block:
    plan = result.answer.rollback
    meta = [f"strategy {code(plan.strategy)}"] if plan.strategy != "unknown" else []
    if plan.deploy is not None:
        meta.append("suspect deploy: " + _deploy_line(plan.deploy))
    if plan.blast_radius:
        meta.append("blast radius: " + cut(escape_mrkdwn(plan.blast_radius), MAX_ITEM))
    note = rollback_note(plan)
    pre = [p for p in plan.preconditions if p.strip()]
    share = ROLLBACK_BUDGET // 5
    return section(
        f"*Rollback plan* — target: {rollback_target(result)}\n"
        + "".join(f"{cut(m, share)}\n" for m in meta)
        + (f"_{escape_mrkdwn(note)}_\n" if note else "")
        + (f"*Preconditions:*\n{bounded(pre, share)}\n" if pre else "")
        + f"*Steps:*\n{bounded(plan.steps, share, numbered=True)}\n"
        f"*Verification:*\n{bounded(plan.verification, share)}\n"
        f"*Abort criteria:*\n{bounded(plan.abort_criteria, share)}"
    )


def _part_blocks(result: TriageResult, frame: AnswerFrame, part: Part) -> Blocks:
    items: list[str] = getattr(result.answer, part.fields[0])
    body = bounded(items, PART_BUDGET, numbered=part.numbered)
    blocks = [section(f"*{part.number}. {part.title}*\n{body}")]
    if "rollback" in part.fields:
        if frame.changes is not None:
            blocks.append(what_changed(frame.changes, frame.changes_window_h))
        blocks.append(rollback_section(result))
    return blocks


def full_plan(result: TriageResult, frame: AnswerFrame) -> Message:
    """All five parts, rollback, what changed, the extras, runbook and cost."""
    answer = result.answer
    blocks: Blocks = [header(f"📋 Full plan · {frame.title}")]
    facts = cut(escape_mrkdwn(" · ".join(frame.facts)), PLAN_FACTS)
    meta = [m for m in (_links(frame), facts) if m]
    if meta:
        blocks.append(context(*meta))
    if result.fallback:
        blocks.append(
            section(
                _fallback_line(result)
                + "\n_This answer comes from the matched runbook, not from the model._"
            )
        )
    summary = cut(escape_mrkdwn(answer.summary).strip(), PLAN_SUMMARY)
    blocks.append(section(summary or "_No summary given._"))
    if frame.measured is not None:
        blocks.append(frame.measured)
    for part in PARTS:
        blocks += _part_blocks(result, frame, part)
    # The extras, "Evidence" among them (live evidence lines join it there).
    for extra in EXTRAS:
        items = getattr(answer, extra.key)
        if extra.key == "evidence":
            items = [e for e in items if e not in frame.hide_evidence]
        if any(str(item).strip() for item in items):
            body = bounded(items, EXTRA_BUDGET, item_limit=MAX_ITEM)
            blocks.append(section(f"*{extra.title}*\n{body}"))
    if any(n.strip() for n in result.notes):
        blocks.append(section(f"*Notes*\n{bounded(result.notes, PART_BUDGET)}"))
    if result.runbook is not None:
        ref = result.runbook
        label = ref.title.strip() or ref.id
        shown = (
            link(ref.url, label)
            if safe_url(ref.url)
            else f"{escape_mrkdwn(label)} ({code(ref.id)})"
        )
        blocks.append(section(f"📖 *Runbook:* {shown}"))
    blocks += [divider(), context(footer_text(result))]
    text = notification(escape_mrkdwn(f"📋 Full plan · {frame.title}"))
    return fit_blocks(blocks, keep_last=2), text


def render_answer(result: TriageResult, frame: AnswerFrame) -> RenderedAnswer:
    """Both messages of an answer."""
    return RenderedAnswer(first=first_screen(result, frame), plan=full_plan(result, frame))
