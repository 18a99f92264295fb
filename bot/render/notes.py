"""The small replies: the placeholder, `/wizard help`, `status`, `runbook`, and errors.

Each is one short message built with the same escaping (`mrkdwn.py`) and limits (`limits.py`)
as the answers, so nothing the bot posts can carry markup from alert text or break a limit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import SEVERITY_RANK, Alert, AlertRecord
from bot.render.format import SEVERITY_ICON, since, thread_url
from bot.render.limits import (
    Blocks,
    Message,
    context,
    fit_blocks,
    header,
    notification,
    section,
)
from bot.render.mrkdwn import bullets, cut, escape_mrkdwn, link, safe_url

MAX_STATUS_LINES = 20


def render_placeholder(
    alert: Alert | None = None, note: str = "pulling context, asking the wizard"
) -> Message:
    """A short "working on it" message, replaced in place by the answer (used where Slack
    offers no thinking status, or to say an analysis is waiting for a model slot)."""
    name = escape_mrkdwn(alert.name).strip() if alert else ""
    text = f"🧙 Looking into {name or 'it'}… ({escape_mrkdwn(note).strip() or 'working'})"
    return fit_blocks([section(text)]), notification(text)


def render_help() -> Message:
    """`/wizard help`."""
    # Written as plain text and escaped: a raw `<question>` would be read by Slack as a link.
    text = escape_mrkdwn(
        "• `/wizard <question>` — ask any infrastructure question\n"
        "• `/wizard status` — open alerts the wizard knows about\n"
        "• `/wizard runbook <name|search>` — show a runbook (no argument lists them)\n"
        "• `/wizard freeze on [for 2h|until <ISO time>] [services a,b] [venues LSE] [reason]`, "
        "`/wizard freeze off`, `/wizard freeze status` — the manual change freeze\n"
        "• `/wizard help` — this message\n"
        "Alerts posted in watched channels are triaged in their thread. Mention @wizard in an "
        "alert thread to ask a follow-up; the wizard answers with that alert's context. "
        "You can also ask in a DM or in the wizard's assistant pane."
    )
    blocks = [header("🧙 Infrastructure Wizard"), section(text)]
    fallback = escape_mrkdwn(
        "Infrastructure Wizard: /wizard <question> | status | runbook | freeze on|off|status | help"
    )
    return fit_blocks(blocks), fallback


def render_status(
    records: list[AlertRecord], *, now: datetime | None = None, incidents: Blocks | None = None
) -> Message:
    """`/wizard status`: open incidents (`incidents`, pre-rendered), then open alerts, most
    severe first, at most 20 lines."""
    if not records:
        return fit_blocks([*(incidents or []), section("No open alerts 🎉")]), "No open alerts 🎉"
    current = now or datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)

    def order(record: AlertRecord) -> tuple[int, float]:
        first = record.first_seen
        stamp = (first if first.tzinfo else first.replace(tzinfo=UTC)).timestamp()
        return (SEVERITY_RANK.get(record.alert.severity, 9), stamp)

    ordered = sorted(records, key=order)
    lines: list[str] = []
    for record in ordered[:MAX_STATUS_LINES]:
        alert = record.alert
        where = (
            " · " + link(thread_url(record.channel, record.thread_ts), "thread")
            if record.channel and record.thread_ts
            else ""
        )
        name = cut(" ".join(escape_mrkdwn(alert.name).split()), 150) or "alert"
        service = cut(escape_mrkdwn(alert.service or "unknown service"), 100)
        lines.append(
            f"{SEVERITY_ICON.get(alert.severity, '⚪')} *{name}* — {alert.severity} · "
            f"{service} · since {since(record.first_seen, current)} · "
            f"×{record.occurrences}{where}"
        )
    if len(ordered) > MAX_STATUS_LINES:
        lines.append(f"…and {len(ordered) - MAX_STATUS_LINES} more")
    count = f"{len(records)} open alert{'' if len(records) == 1 else 's'}"
    blocks = [header(f"🧙 {count}"), *(incidents or []), section("\n".join(lines))]
    return fit_blocks(blocks), count


def render_runbook(title: str, sections: dict[str, list[str]], url: str | None) -> Message:
    """`/wizard runbook <name>`: the runbook's sections as lists, and a link to the source."""
    blocks: Blocks = [header(f"📖 {title}")]
    for name, items in sections.items():
        blocks.append(section(f"*{escape_mrkdwn(name).strip() or 'Section'}*\n{bullets(items)}"))
    if not sections:
        blocks.append(section("_This runbook has no sections._"))
    if safe_url(url):
        blocks.append(context(link(url, "Open the full runbook")))
    elif url and url.strip():
        blocks.append(context(f"Source: {escape_mrkdwn(url)}"))
    return fit_blocks(blocks), notification(escape_mrkdwn(f"📖 Runbook: {title}"))


def render_error(text: str) -> Message:
    """A polite error reply; the text is escaped like everything else."""
    detail = escape_mrkdwn(text).strip() or "something went wrong."
    message = f"🧙 Sorry — {detail}"
    return fit_blocks([section(message)]), notification(message)
