"""The evidence pack as a Slack section, high in the analysis: what was measured, right now.

Readings that cross a threshold come first, with their query and a link to the configured
Prometheus' graph page; those within their thresholds share one line; then Alertmanager's view.
The same readings are in the answer's *Evidence* list as plain lines (for the audit record,
Markdown and the thread's memory); the full plan (`bot/render/answer.py`) shows this section
under the summary and leaves those lines out of its Evidence list (`hide_evidence`).
"""

from __future__ import annotations

from bot.evidence.models import EvidenceItem, EvidencePack
from bot.evidence.reading import format_value
from bot.evidence.render import MONITORING, labels_text, movement, threshold_text
from bot.redact import redact
from bot.render.limits import Block, section
from bot.render.mrkdwn import escape_mrkdwn, link

MAX_QUERY = 90
ICONS = {"alertmanager": "🔔", "deploys": "🚀", "past_incidents": "🧠", "logs": "📜"}


def _query(expr: str | None) -> str:
    if not expr:
        return ""
    shown = expr if len(expr) <= MAX_QUERY else expr[: MAX_QUERY - 1] + "…"
    return " `" + escape_mrkdwn(redact(shown)).replace("`", "'") + "`"


def _line(item: EvidenceItem) -> str:
    name = f"*{escape_mrkdwn(redact(item.name))}*"
    if item.source != "prometheus":
        icon = ICONS.get(item.source, "ℹ️")
        if item.status != "ok":
            return f"{icon} {name}: {escape_mrkdwn(redact(item.reason or 'none'))}"
        return f"{icon} {name}: " + escape_mrkdwn(redact("; ".join(item.lines)))
    if item.status != "ok":
        state = "not available" if item.status == "unavailable" else "no data"
        return (
            f"❔ {name}: {state} ({escape_mrkdwn(redact(item.reason or ''))}){_query(item.query)}"
        )
    then, moving = movement(item)
    words = (
        f"{format_value(item.now, item.unit)} now, {then}, {moving}{threshold_text(item)}"
        f"{labels_text(item)}"
    )
    graph = f" · {link(item.graph_url, 'graph')}" if item.graph_url else ""
    return f"📈 {name} {escape_mrkdwn(redact(words))} ·{_query(item.query)}{graph}"


def _fine(item: EvidenceItem) -> bool:
    return item.source == "prometheus" and item.status == "ok" and item.verdict == "ok"


def evidence_section(pack: EvidencePack | None) -> Block | None:
    """ "📈 Measured now": what crosses a threshold (or has none) one line each with its query and
    graph link, the readings within their thresholds together on one line, then Alertmanager.
    None when nothing was gathered."""
    if pack is None:
        return None
    # Deploys and past incidents have their own blocks (what changed, last time): not twice.
    items = [i for i in pack.items if i.source in MONITORING]
    lines = [f"• {_line(i)}" for i in items if not _fine(i) and i.source == "prometheus"]
    fine = [i for i in items if _fine(i)]
    if fine:
        readings = ", ".join(
            f"{escape_mrkdwn(redact(i.name))} {format_value(i.now, i.unit)}" for i in fine
        )
        lines.append(f"• ✅ within thresholds: {readings}")
    lines += [f"• {_line(i)}" for i in items if i.source != "prometheus"]
    if not lines:
        return None
    head = f"*📈 Measured now* _(evidence pack, {pack.gathered_ms} ms)_"
    return section(head + "\n" + "\n".join(lines))
