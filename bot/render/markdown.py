"""Terminal renderings: a triage answer as Markdown (`wizard triage`), and any Block Kit message
as readable text (`wizard demo` shows what was posted to Slack)."""

from __future__ import annotations

import html
from typing import Any

from bot.models import Alert, TriageResult


def _list(items: list[str], numbered: bool = False) -> str:
    if not items:
        return "_none_"
    return "\n".join(f"{i}. {x}" if numbered else f"- {x}" for i, x in enumerate(items, 1))


def triage_markdown(
    result: TriageResult, *, alert: Alert | None = None, heading: str | None = None
) -> str:
    answer = result.answer
    rollback = answer.rollback
    title = heading or (f"Wizard triage: {alert.name}" if alert else "Wizard answer")
    out = [f"# 🧙 {title}", ""]
    if alert is not None:
        out += [
            f"*{alert.source} · {alert.status} · severity {alert.severity} · service "
            f"{alert.service or 'unknown'} · env {alert.environment or 'unknown'} · "
            f"confidence {answer.confidence}*",
            "",
        ]
    if result.fallback:
        reason = result.fallback_reason
        out += [f"> ⚠️ **Runbook fallback** — the model was unavailable: {reason}", ""]
    target = (
        f"`{rollback.target_version}` (from deploy history)"
        if rollback.target_version and rollback.target_known
        else "**unknown** — confirm from deploy history"
    )
    out += [
        answer.summary,
        "",
        "## 1. Immediate actions",
        _list(answer.immediate_actions, True),
        "",
        "## 2. Implementation plan",
        _list(answer.implementation_plan, True),
        "",
        "## 3. Monitoring strategy",
        _list(answer.monitoring_strategy),
        "",
        "## 4. Risk mitigation",
        _list(answer.risk_mitigation),
        "",
        f"**Rollback plan** — target: {target}",
        _list(rollback.steps, True),
        "",
        "Verify:",
        _list(rollback.verification),
        "",
        "Abort if:",
        _list(rollback.abort_criteria),
        "",
        "## 5. Performance benchmarks / success criteria",
        _list(answer.success_criteria),
        "",
    ]
    for label, items in (
        ("Questions for you", answer.clarifying_questions),
        ("Evidence", answer.evidence),
        ("Compliance", answer.compliance_notes),
        ("Notes", result.notes),
    ):
        if items:
            out += [f"### {label}", _list(items), ""]
    usage = result.usage
    footer = [f"model {result.model}" if result.model else "no model (runbook)"]
    if result.runbook:
        footer.insert(0, f"runbook {result.runbook.id}")
    footer.append(f"{result.latency_ms} ms")
    if usage.input_tokens or usage.output_tokens:
        footer.append(
            f"tokens in {usage.input_tokens}/out {usage.output_tokens}/cache read "
            f"{usage.cache_read_input_tokens}"
        )
        footer.append(f"cost ${usage.cost_usd:.4f}")
    out.append("---")
    out.append(" · ".join(footer))
    return "\n".join(out) + "\n"


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return html.unescape(str(obj.get("text", "")))
    return ""


def blocks_to_text(blocks: list[dict[str, Any]]) -> str:
    """A readable rendering of Block Kit for a terminal."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines += [_text(block.get("text")).upper()]
        elif kind == "section":
            lines += _text(block.get("text")).splitlines()
            for field in block.get("fields") or []:
                lines.append(_text(field))
        elif kind == "context":
            lines.append("  " + "  ".join(_text(e) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("─" * 40)
    return "\n".join(lines)
