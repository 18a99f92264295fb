"""A triage answer as Markdown, for `wizard triage`: the same two screens the bot posts.

An engineer without Slack (or piping to a file for the incident record) sees exactly what the
wizard said, in the same shape as in the thread: the first screen (summary, severity and
impact, top three actions, rollback target, confidence), then the full plan with the five parts
from `bot.answer.PARTS`. Untrusted text is stripped of control and bidi characters: in a
terminal an ESC sequence in an alert or model answer could rewrite what is shown.
"""

from __future__ import annotations

from bot.answer import EXTRAS, FIRST_SCREEN_ACTIONS, PARTS
from bot.models import Alert, TriageResult
from bot.render.answer import AnswerFrame, frame_for, known_rollback_version, rollback_note
from bot.render.format import duration_ms, money, severity_label
from bot.render.mrkdwn import safe_url
from bot.text import clean_text


def _line(text: str) -> str:
    return " ".join(clean_text(text).split())


def _list(items: list[str], *, numbered: bool = False) -> str:
    lines: list[str] = []
    for item in items:
        text = clean_text(item).strip()
        if not text:
            continue
        marker = f"{len(lines) + 1}." if numbered else "-"
        indent = " " * (len(marker) + 1)
        lines.append(f"{marker} " + text.replace("\n", "\n" + indent))
    return "\n".join(lines) if lines else "_none_"


def _rollback_target(result: TriageResult) -> str:
    version = known_rollback_version(result)
    if version is not None:
        return f"`{_line(version)}` (from deploy history)"
    return "**unknown — confirm from deploy history** before rolling back"


def _footer(result: TriageResult) -> str:
    usage = result.usage
    parts = [
        f"model `{_line(result.model)}`" if result.model else "no model (runbook fallback)",
        f"latency {duration_ms(result.latency_ms)}",
        (
            f"tokens in {usage.input_tokens:,} · out {usage.output_tokens:,} · "
            f"cache read {usage.cache_read_input_tokens:,} · "
            f"cache write {usage.cache_creation_input_tokens:,}"
        ),
        f"cost {money(usage.cost_usd)}",
    ]
    if result.prompt_hash:
        parts.append(f"prompt `{_line(result.prompt_hash[:12])}`")
    return " · ".join(parts)


def _first_screen(result: TriageResult, frame: AnswerFrame) -> list[str]:
    answer = result.answer
    facts = []
    if frame.severity:
        facts.append(severity_label(frame.severity, frame.raised_from, frame.severity_reason))
    if frame.headline:
        facts.append(frame.headline)
    facts.append(f"confidence {answer.confidence}")
    out = [f"# 🧙 {_line(frame.title)}", "", clean_text(answer.summary).strip() or "_No summary._"]
    out += ["", f"_{_line(' · '.join(facts))}_", ""]
    if result.fallback:
        reason = _line(result.fallback_reason or "no reason recorded") or "unknown"
        out += [f"> ⚠️ **Runbook fallback** — the model was unavailable: {reason}", ""]
    actions = [a for a in answer.immediate_actions if a.strip()]
    out += ["**Do now**", _list(actions[:FIRST_SCREEN_ACTIONS], numbered=True)]
    if len(actions) > FIRST_SCREEN_ACTIONS:
        out.append(f"_+{len(actions) - FIRST_SCREEN_ACTIONS} more in the plan below_")
    out += ["", f"**Rollback target:** {_rollback_target(result)}", ""]
    return out


def _full_plan(result: TriageResult, frame: AnswerFrame) -> list[str]:
    answer = result.answer
    plan = answer.rollback
    out = ["---", "", f"# 📋 Full plan · {_line(frame.title)}", ""]
    links = [f"[{label}]({url})" for url, label in frame.links if url and safe_url(url)]
    if links:
        out += [" · ".join(links), ""]
    out += [f"- {_line(f)}" for f in frame.facts]
    if frame.facts:
        out.append("")
    if result.fallback:
        out += ["> This answer comes from the matched runbook, not from the model.", ""]
    out += ["## Summary", clean_text(answer.summary).strip() or "_No summary given._", ""]
    for part in PARTS:
        items: list[str] = getattr(answer, part.fields[0])
        out += [f"## {part.number}. {part.title}", _list(items, numbered=part.numbered), ""]
        if "rollback" in part.fields:
            note = rollback_note(plan)
            out += ["### Rollback plan", f"Target: {_rollback_target(result)}", ""]
            if note:
                out += [f"_{_line(note)}_", ""]
            if any(p.strip() for p in plan.preconditions):
                out += ["**Preconditions:**", _list(plan.preconditions), ""]
            out += ["**Steps:**", _list(plan.steps, numbered=True), ""]
            out += ["**Verification:**", _list(plan.verification), ""]
            out += ["**Abort criteria:**", _list(plan.abort_criteria), ""]
    for extra in EXTRAS:
        items = getattr(answer, extra.key)
        if any(str(item).strip() for item in items):
            out += [f"## {extra.title}", _list(items), ""]
    if any(n.strip() for n in result.notes):
        out += ["## Notes", _list(result.notes), ""]
    if result.runbook is not None:
        ref = result.runbook
        label = _line(ref.title) or _line(ref.id)
        url = ref.url.strip() if ref.url and safe_url(ref.url) else None
        shown = f"[{label}]({url})" if url else f"{label} (`{_line(ref.id)}`, {_line(ref.path)})"
        out += [f"📖 **Runbook:** {shown}", ""]
    out += ["---", _footer(result)]
    return out


def answer_markdown(result: TriageResult, frame: AnswerFrame) -> str:
    """The first screen, then the full five-part plan, as Markdown."""
    return "\n".join([*_first_screen(result, frame), *_full_plan(result, frame)]) + "\n"


def triage_markdown(
    result: TriageResult, *, alert: Alert | None = None, heading: str | None = None
) -> str:
    """`answer_markdown` with the usual frame for `alert` (or `heading`)."""
    return answer_markdown(result, frame_for(alert, heading))
