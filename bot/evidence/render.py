"""The pack as evidence lines: one line per item, the same in the model's answer, the runbook
fallback, the Markdown output and the audit record.

Each reading names its source — the query and a link to the configured Prometheus' graph page —
so a human can check the number in one click. Lines are redacted like every outward text.
"""

from __future__ import annotations

from bot.evidence.models import EvidenceItem, EvidencePack
from bot.evidence.reading import format_value
from bot.redact import redact

MAX_QUERY_CHARS = 200
MAX_LINE_CHARS = 700
MAX_LABELS = 4
MEASURED = "📈 measured:"
"""Prefix of every reading line: tells bot-measured values from the model's own evidence."""


def _query(expr: str | None) -> str:
    if not expr:
        return ""
    shown = expr if len(expr) <= MAX_QUERY_CHARS else expr[: MAX_QUERY_CHARS - 1] + "…"
    return f" — query `{shown.replace('`', "'")}`"


def labels_text(item: EvidenceItem) -> str:
    """Which series the value is, when the query returned several (one needs no naming)."""
    keep = {k: v for k, v in item.labels.items() if k not in ("__name__", "job")}
    if not keep or item.series < 2:
        return ""
    shown = ", ".join(f'{k}="{v}"' for k, v in sorted(keep.items())[:MAX_LABELS])
    return f" (worst of {item.series} series: {{{shown}}})"


def threshold_text(item: EvidenceItem) -> str:
    """`; CRIT: above 5 %`, `; alert condition `> 0.05` holds now`, or nothing."""
    if item.verdict is None:
        return ""
    if item.condition:
        holds = "holds now" if item.verdict != "ok" else "no longer holds"
        return f"; alert condition `{item.condition}` {holds}"
    side = "below" if item.below else "above"
    if item.verdict == "ok":
        limit = item.warn if item.warn is not None else item.crit
        return f"; within threshold ({side} {format_value(limit, item.unit)} is bad)"
    limit = item.crit if item.verdict == "crit" else item.warn
    return f"; {item.verdict.upper()}: {side} {format_value(limit, item.unit)}"


def movement(item: EvidenceItem) -> tuple[str, str]:
    """("0.4 % 30 min ago" or "… at 09:38 UTC (its first point)", "rising since 09:31 UTC")."""
    moving: str = item.trend
    if item.since is not None and moving in ("rising", "falling"):
        moving += f" since {item.since.strftime('%H:%M UTC')}"
    elif moving == "unknown":  # fewer than two points: nothing earlier to compare with
        return f"no earlier point in {item.window_min} min", "no trend yet"
    then = f"{item.window_min} min ago"
    if item.ago_at is not None and item.at is not None:
        young = (item.at - item.ago_at).total_seconds() < item.window_min * 60 * 0.9
        if young:
            then = f"at {item.ago_at.strftime('%H:%M:%S UTC')} (its first point)"
    return f"{format_value(item.ago, item.unit)} {then}", moving


def reading_line(item: EvidenceItem) -> str:
    """`📈 measured: error ratio = 7.3 % now, 0.4 % 30 min ago, rising since 09:31 UTC …`."""
    if item.status == "unavailable":
        return f"❔ {item.name}: not available ({item.reason}){_query(item.query)}"
    if item.status == "empty":
        return f"📭 {item.name}: {item.reason or 'no data'}{_query(item.query)}"
    unit = item.unit
    then, moving = movement(item)
    span = ""
    if item.low is not None and item.high is not None and item.low != item.high:
        span = f", {item.window_min} min range "
        span += f"{format_value(item.low, unit)}–{format_value(item.high, unit)}"
    text = (
        f"{MEASURED} {item.name} = {format_value(item.now, unit)} now, "
        f"{then}, {moving}{span}{threshold_text(item)}"
        f"{labels_text(item)}{_query(item.query)}"
        + (f" — graph: {item.graph_url}" if item.graph_url else "")
    )
    return text


def item_line(item: EvidenceItem) -> str:
    if item.source == "prometheus":
        line = reading_line(item)
    elif item.status != "ok":
        state = "not available" if item.status == "unavailable" else "none"
        line = f"ℹ️ {item.name}: {state} ({item.reason})"
    else:
        icon = {"alertmanager": "🔔", "deploys": "🚀", "past_incidents": "🧠", "logs": "📜"}
        line = f"{icon.get(item.source, 'ℹ️')} {item.name}: " + "; ".join(item.lines)
    line = redact(line)
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


MONITORING = frozenset({"prometheus", "alertmanager", "logs"})


def evidence_lines(pack: EvidencePack | None, sources: frozenset[str] | None = None) -> list[str]:
    """Items of the pack (all, or those of `sources`) as one line each, in pack order."""
    if pack is None:
        return []
    return [item_line(i) for i in pack.items if sources is None or i.source in sources]


def model_text(pack: EvidencePack) -> str:
    """The pack for the model: the same lines plus how it was gathered (data, not instructions)."""
    head = (
        f"evidence gathered by the bot at {pack.at.isoformat(timespec='seconds')} in "
        f"{pack.gathered_ms} ms from {pack.prometheus or 'no Prometheus'}; values are measured, "
        "'not available' means it could not be checked"
    )
    return "\n".join([head, *(f"- {line}" for line in evidence_lines(pack))])


def with_measured(evidence: list[str], pack: EvidencePack | None) -> list[str]:
    """The answer's evidence with the pack's lines first (once), whoever wrote the rest."""
    lines = evidence_lines(pack)
    return lines + [e for e in evidence if e not in lines]
