"""Block Kit rendering: a `TriageResult` (and the small status/help replies) as Slack blocks.

Pure functions, no I/O. Two jobs besides layout:
- everything from alerts or the model is escaped (`&`, `<`, `>`), so untrusted text can never
  become Slack markup (`<!channel>`, `<@U…>`, `<http://evil|click here>`);
- Slack's limits are enforced in one place (`fit_blocks`): ≤ 50 blocks, ≤ 3000 characters per
  section, ≤ 150 per header, ≤ 10 context elements; long parts are split at line boundaries and
  what still does not fit is cut with a visible note instead of Slack rejecting the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.models import Alert, AlertRecord, TriageResult

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK = 3000
MAX_STATUS_LINES = 20

_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")

Blocks = list[dict[str, Any]]


def escape_mrkdwn(text: str) -> str:
    """Make untrusted text inert in Slack: escape the three control characters, drop invisibles."""
    text = _CONTROL.sub("", _INVISIBLE.sub("", str(text)))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """A Slack link for an http(s) URL we trust; otherwise just the escaped label."""
    if url and _SAFE_URL.match(url):
        return f"<{url}|{escape_mrkdwn(label).replace('|', '¦')}>"
    return escape_mrkdwn(label)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> dict[str, Any]:
    plain = _CONTROL.sub("", _INVISIBLE.sub("", text)).strip() or "Infrastructure Wizard"
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(plain, MAX_HEADER)}}


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn or "_none_"}}


def context(*texts: str) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": _cut(t, MAX_CONTEXT_TEXT)} for t in texts if t][
        :MAX_CONTEXT_ELEMENTS
    ]
    return {"type": "context", "elements": elements or [{"type": "mrkdwn", "text": " "}]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def _split(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split at line boundaries into chunks of at most `limit` characters."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks or [""]


def fit_blocks(blocks: Blocks) -> Blocks:
    """Enforce Slack's limits: split long sections, then cap the count with a visible note."""
    fitted: Blocks = []
    for block in blocks:
        if block.get("type") == "section" and "text" in block:
            text = block["text"].get("text", "")
            fitted += [section(chunk) for chunk in _split(text)]
        else:
            fitted.append(block)
    if len(fitted) > MAX_BLOCKS:
        dropped = fitted[MAX_BLOCKS - 1 :]
        lines = sum(
            b["text"]["text"].count("\n") + 1 for b in dropped if b.get("type") == "section"
        )
        fitted = fitted[: MAX_BLOCKS - 1]
        fitted.append(
            context(
                f"…truncated: {lines} more lines not shown; the full answer is in the audit "
                "record (`wizard triage` prints it too)."
            )
        )
    return fitted


def _bullets(items: Iterable[str], numbered: bool = False) -> str:
    lines = [
        f"{i}. {escape_mrkdwn(item)}" if numbered else f"• {escape_mrkdwn(item)}"
        for i, item in enumerate((x for x in items if str(x).strip()), start=1)
    ]
    return "\n".join(lines) if lines else "_none_"


def _part(title: str, body: str) -> dict[str, Any]:
    return section(f"*{title}*\n{body}")


def _money(value: Decimal) -> str:
    return f"${value:.4f}"


def _fallback_text(lines: Iterable[str]) -> str:
    text = "\n".join(line for line in lines if line)
    return _cut(text, MAX_FALLBACK)


def render_triage(
    result: TriageResult, *, alert: Alert | None = None, heading: str | None = None
) -> tuple[Blocks, str]:
    """The wizard's five-part answer as blocks, and a short plain-text fallback."""
    answer = result.answer
    title = heading or (f"Wizard triage: {alert.name}" if alert else "Wizard answer")
    blocks: Blocks = [header(f"🧙 {title}")]
    if alert is not None:
        facts = [
            alert.source,
            f"severity {alert.severity}",
            f"service {alert.service or 'unknown'}",
            f"env {alert.environment or 'unknown'}",
            f"confidence {answer.confidence}",
        ]
        links = [
            link(alert.links.source, "source"),
            link(alert.links.dashboard, "dashboard") if alert.links.dashboard else "",
        ]
        blocks.append(context(escape_mrkdwn(" · ".join(facts)), " ".join(x for x in links if x)))
    if result.fallback:
        blocks.append(
            section(
                "⚠️ *Runbook fallback* — the model was unavailable: "
                f"{escape_mrkdwn(result.fallback_reason or 'unknown reason')}. "
                "This answer comes from the matched runbook, not from the wizard."
            )
        )
    blocks.append(section(escape_mrkdwn(answer.summary)))
    blocks.append(_part("1. Immediate actions", _bullets(answer.immediate_actions, True)))
    blocks.append(_part("2. Implementation plan", _bullets(answer.implementation_plan, True)))
    blocks.append(_part("3. Monitoring strategy", _bullets(answer.monitoring_strategy)))
    rollback = answer.rollback
    target = (
        f"`{escape_mrkdwn(rollback.target_version)}` (from deploy history)"
        if rollback.target_version and rollback.target_known
        else "*unknown* — confirm the previous version from deploy history before rolling back"
    )
    blocks.append(_part("4. Risk mitigation", _bullets(answer.risk_mitigation)))
    blocks.append(
        section(
            f"*Rollback plan* — target: {target}\n{_bullets(rollback.steps, True)}\n"
            f"*Verify:*\n{_bullets(rollback.verification)}\n"
            f"*Abort if:*\n{_bullets(rollback.abort_criteria)}"
        )
    )
    blocks.append(
        _part("5. Performance benchmarks / success criteria", _bullets(answer.success_criteria))
    )
    if answer.clarifying_questions:
        blocks.append(_part("❓ Questions for you", _bullets(answer.clarifying_questions)))
    if answer.evidence:
        blocks.append(_part("Evidence", _bullets(answer.evidence)))
    if answer.compliance_notes:
        blocks.append(_part("Compliance", _bullets(answer.compliance_notes)))
    if result.notes:
        blocks.append(_part("Notes", _bullets(result.notes)))
    footer = [
        f"model {escape_mrkdwn(result.model)}" if result.model else "no model (runbook)",
        f"{result.latency_ms} ms",
    ]
    usage = result.usage
    if usage.input_tokens or usage.output_tokens:
        footer.append(
            f"tokens in {usage.input_tokens} / out {usage.output_tokens} / cache read "
            f"{usage.cache_read_input_tokens} / cache write {usage.cache_creation_input_tokens}"
        )
        footer.append(f"cost {_money(usage.cost_usd)}")
    if result.runbook:
        footer.insert(0, "runbook " + link(result.runbook.url, result.runbook.title))
    blocks.append(divider())
    blocks.append(context(" · ".join(footer)))
    text = _fallback_text(
        [
            f"🧙 {title}" + (" (runbook fallback)" if result.fallback else ""),
            escape_mrkdwn(answer.summary),
            "Immediate actions: "
            + "; ".join(escape_mrkdwn(a) for a in answer.immediate_actions[:3]),
        ]
    )
    return fit_blocks(blocks), text


def render_placeholder(alert: Alert | None, note: str = "pulling context, asking the wizard"):
    """The message people see within a second, replaced in place by the answer."""
    subject = escape_mrkdwn(alert.name) if alert else "this"
    text = f"🧙 Looking into {subject}… ({escape_mrkdwn(note)})"
    return [section(text)], _cut(text, MAX_FALLBACK)


def render_resolved(alert: Alert, duration_s: float | None) -> tuple[Blocks, str]:
    lasted = ""
    if duration_s is not None and duration_s >= 0:
        minutes, seconds = divmod(int(duration_s), 60)
        hours, minutes = divmod(minutes, 60)
        lasted = (
            f" after {hours}h {minutes:02d}m {seconds:02d}s"
            if hours
            else (f" after {minutes}m {seconds:02d}s")
        )
    text = (
        f"✅ *{escape_mrkdwn(alert.name)}* resolved{lasted}"
        f" ({escape_mrkdwn(alert.service or 'unknown service')}). "
        "No action from the wizard; record what fixed it in this thread for the audit trail."
    )
    return fit_blocks([section(text)]), _cut(text, MAX_FALLBACK)


def render_help() -> tuple[Blocks, str]:
    text = (
        "*🧙 Infrastructure Wizard*\n"
        "• `/wizard <question>` — any infrastructure question, answered in this channel\n"
        "• `/wizard status` — open alerts the bot knows about\n"
        "• `/wizard runbook <name|search>` — show a runbook (no argument lists them)\n"
        "• `/wizard help` — this message\n"
        "Alerts posted in watched channels are triaged in their thread. Reply in that thread "
        "(or mention @wizard) to ask a follow-up; the wizard remembers the thread."
    )
    return [section(text)], "Infrastructure Wizard help: /wizard <question> | status | runbook"


def _since(when: datetime) -> str:
    delta = datetime.now(UTC) - when
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def render_status(records: list[AlertRecord]) -> tuple[Blocks, str]:
    if not records:
        return [section("No open alerts 🎉")], "No open alerts"
    lines = []
    for record in records[:MAX_STATUS_LINES]:
        alert = record.alert
        where = (
            " · "
            + link(
                f"https://slack.com/app_redirect?channel={record.channel}"
                f"&message_ts={record.thread_ts}",
                "thread",
            )
            if record.channel and record.thread_ts
            else ""
        )
        lines.append(
            f"• *{escape_mrkdwn(alert.name)}* — {alert.severity} · "
            f"{escape_mrkdwn(alert.service or 'unknown service')} · since "
            f"{_since(record.first_seen)} · ×{record.occurrences}{where}"
        )
    if len(records) > MAX_STATUS_LINES:
        lines.append(f"…and {len(records) - MAX_STATUS_LINES} more")
    blocks = [header(f"🧙 {len(records)} open alert(s)"), section("\n".join(lines))]
    return fit_blocks(blocks), f"{len(records)} open alerts"


def render_runbook(
    title: str, sections: dict[str, list[str]], url: str | None
) -> tuple[Blocks, str]:
    blocks: Blocks = [header(f"📖 {title}")]
    for name, items in sections.items():
        blocks.append(_part(escape_mrkdwn(name), _bullets(items)))
    if url:
        blocks.append(context(link(url, "open the runbook")))
    return fit_blocks(blocks), f"Runbook: {title}"


def render_error(text: str) -> tuple[Blocks, str]:
    message = f"🧙 Sorry — {escape_mrkdwn(text)}"
    return [section(message)], _cut(message, MAX_FALLBACK)
