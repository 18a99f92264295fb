"""Terminal renderings: a triage answer as Markdown, and any Block Kit message as readable text.

`wizard triage` prints the same five-part answer the bot posts to Slack, as GitHub-style
Markdown, so an engineer without Slack (or piping to a file for the incident record) sees
exactly what the wizard said. `wizard demo` uses `blocks_to_text` to show what was posted to
the sandbox Slack. Untrusted text is stripped of control and bidi characters here as well:
in a terminal an ESC sequence in an alert or model answer could rewrite what is shown.
"""

from __future__ import annotations

import re
from typing import Any

from bot.models import Alert, TriageResult
from bot.render.blocks import (
    duration_ms,
    known_rollback_version,
    money,
    safe_url,
)
from bot.text import clean_text

_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_BARE = re.compile(r"<([^<>|]+)>")


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


def triage_markdown(
    result: TriageResult, *, alert: Alert | None = None, heading: str | None = None
) -> str:
    """The five-part answer as Markdown, with the fallback banner and the cost footer."""
    answer = result.answer
    plan = answer.rollback
    if heading:
        title = heading
    elif alert is not None:
        title = f"Wizard triage: {alert.name}"
    else:
        title = "Wizard answer"
    out = [f"# 🧙 {_line(title)}", ""]
    facts: list[str] = []
    if alert is not None:
        facts += [
            alert.source,
            alert.status,
            f"severity {alert.severity}",
            f"service {alert.service or 'unknown'}",
            f"env {alert.environment or 'unknown'}",
        ]
    facts.append(f"confidence {answer.confidence}")
    out += [f"_{_line(' · '.join(facts))}_", ""]
    if alert is not None:
        links = [
            f"[{label}]({url})"
            for url, label in (
                (alert.links.source, "source"),
                (alert.links.dashboard, "dashboard"),
                (alert.links.runbook, "alert runbook"),
            )
            if url and safe_url(url)
        ]
        if links:
            out += [" · ".join(links), ""]
    if result.fallback:
        reason = _line(result.fallback_reason or "no reason recorded") or "unknown"
        out += [
            f"> ⚠️ **Runbook fallback** — the model was unavailable: {reason}",
            "> This answer comes from the matched runbook, not from the model.",
            "",
        ]
    out += [
        "## Summary",
        clean_text(answer.summary).strip() or "_No summary given._",
        "",
        "## 1. Immediate actions",
        _list(answer.immediate_actions, numbered=True),
        "",
        "## 2. Implementation plan",
        _list(answer.implementation_plan, numbered=True),
        "",
        "## 3. Monitoring strategy",
        _list(answer.monitoring_strategy),
        "",
        "## 4. Risk mitigation",
        _list(answer.risk_mitigation),
        "",
        "### Rollback plan",
        f"Target: {_rollback_target(result)}",
        "",
        "**Steps:**",
        _list(plan.steps, numbered=True),
        "",
        "**Verification:**",
        _list(plan.verification),
        "",
        "**Abort criteria:**",
        _list(plan.abort_criteria),
        "",
        "## 5. Performance benchmarks / success criteria",
        _list(answer.success_criteria),
        "",
    ]
    for label, items in (
        ("Clarifying questions", answer.clarifying_questions),
        ("Evidence", answer.evidence),
        ("Compliance notes", answer.compliance_notes),
        ("Notes", result.notes),
    ):
        if any(str(item).strip() for item in items):
            out += [f"## {label}", _list(items), ""]
    if result.runbook is not None:
        ref = result.runbook
        label = _line(ref.title) or _line(ref.id)
        url = ref.url.strip() if ref.url and safe_url(ref.url) else None
        shown = f"[{label}]({url})" if url else f"{label} (`{_line(ref.id)}`, {_line(ref.path)})"
        out += [f"📖 **Runbook:** {shown}", ""]
    out += ["---", _footer(result)]
    return "\n".join(out) + "\n"


def _unslack(text: str) -> str:
    """Slack mrkdwn markup as plain text: links, mentions and the three entities."""
    text = _LINK.sub(lambda m: _label(m.group(1), m.group(2)), text)
    text = _BARE.sub(lambda m: _label(m.group(1), ""), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return clean_text(text)


def _label(target: str, label: str) -> str:
    if target.startswith("!"):  # <!channel>, <!subteam^ID|@team>, <!date^…|fallback>
        return label or "@" + target[1:].split("^")[0]
    if target.startswith(("@", "#")):
        return label if label.startswith(("@", "#")) else target[0] + (label or target[1:])
    url = target.replace("&amp;", "&")
    return f"{label} ({url})" if label and label != url else url


def _text(obj: Any) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return _unslack(obj["text"]) if obj.get("type") != "plain_text" else clean_text(obj["text"])
    return ""


def _rich_text(element: Any) -> str:
    """Best-effort text of a rich_text element tree."""
    if isinstance(element, dict):
        if element.get("type") == "text":
            return clean_text(element.get("text", ""))
        if element.get("type") == "link":
            return clean_text(element.get("text") or element.get("url", ""))
        if element.get("type") in ("user", "usergroup", "channel"):
            return "@" + clean_text(element.get("user_id") or element.get("channel_id") or "")
        return "".join(_rich_text(e) for e in element.get("elements") or [])
    return ""


def blocks_to_text(blocks: list[dict[str, Any]]) -> str:
    """A readable rendering of a Block Kit message for a terminal."""
    lines: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [title, "═" * min(max(len(title), 3), 70)]
        elif kind == "section":
            lines += _text(block.get("text")).splitlines()
            lines += [_text(field) for field in block.get("fields") or []]
        elif kind == "context":
            parts = []
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("type") == "image":
                    parts.append(f"[{clean_text(element.get('alt_text', 'image'))}]")
                else:
                    parts.append(_text(element))
            lines.append("  " + " · ".join(p for p in parts if p))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "markdown":
            lines += clean_text(block.get("text", "")).splitlines()
        elif kind == "image":
            lines.append(f"[image: {clean_text(block.get('alt_text', ''))}]")
        elif kind == "actions":
            labels = [
                _text(e.get("text")) for e in block.get("elements") or [] if isinstance(e, dict)
            ]
            lines.append("  " + " ".join(f"[ {label} ]" for label in labels if label))
        elif kind == "rich_text":
            lines += _rich_text(block).splitlines()
    return "\n".join(lines)
