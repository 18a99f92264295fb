"""How a veteran reads a series: the value now, 30 minutes ago, which way it moves, since when,
and whether it crosses the catalog's thresholds — and how to write that in one line.

Why here and not in the model: the numbers must be right with or without a model (the runbook
fallback shows the same reading), and a model must not be the one computing "rising since".
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.evidence.models import EvidenceItem, Trend, Verdict
from bot.evidence.prometheus import Series
from bot.evidence.queries import Query

TREND_CHANGE = 0.10
"""A move of more than 10 % of the start value (or of the range, near zero) is a trend."""


def worst(series: list[Series], below: bool) -> Series | None:
    """The series to talk about: highest last value, or lowest for lower-bound signals."""
    with_data = [s for s in series if s.samples]
    if not with_data:
        return None
    return min(with_data, key=lambda s: s.samples[-1][1]) if below else with_data[0]


def trend(samples: list[tuple[float, float]]) -> tuple[Trend, datetime | None]:
    """Direction over the window and when the current move began."""
    if len(samples) < 2:
        return "unknown", None
    first, last = samples[0][1], samples[-1][1]
    values = [v for _, v in samples]
    spread = max(values) - min(values)
    scale = abs(first) if first else spread
    delta = last - first
    if scale == 0 or abs(delta) <= TREND_CHANGE * scale:
        return "flat", None
    direction: Trend = "rising" if delta > 0 else "falling"
    # The move began after the last point still within 10 % of the way from start to end.
    mark = first + TREND_CHANGE * delta
    start = samples[0][0]
    for at, value in samples:
        if (value <= mark) if delta > 0 else (value >= mark):
            start = at
    after = [at for at, _ in samples if at > start]
    began = after[0] if after else samples[-1][0]
    return direction, datetime.fromtimestamp(began, UTC)


def verdict(value: float | None, query: Query) -> Verdict | None:
    if value is None or (query.warn is None and query.crit is None):
        return None

    def crosses(limit: float | None) -> bool:
        return limit is not None and (value < limit if query.below else value > limit)

    return "crit" if crosses(query.crit) else "warn" if crosses(query.warn) else "ok"


def read(
    query: Query,
    instant: list[Series],
    window: list[Series],
    graph_url: str | None,
    window_min: int = 30,
) -> EvidenceItem:
    """One reading from an instant and a range answer of the same expression."""
    now_series = worst(instant, query.below)
    range_series = worst(window, query.below)
    base = EvidenceItem(
        source="prometheus",
        name=query.name,
        trusted=query.trusted,
        query=query.expr,
        origin=query.origin,
        unit=query.unit,
        warn=query.warn,
        crit=query.crit,
        below=query.below,
        condition=query.condition,
        graph_url=graph_url,
        series=len(instant) or len(window),
        window_min=window_min,
    )
    if now_series is None and range_series is None:
        return base.model_copy(update={"status": "empty", "reason": "no data for this query"})
    if range_series is not None and now_series is not None:
        # Follow the same series over time when the labels match; else the range's worst one.
        match = next((s for s in window if s.labels == now_series.labels and s.samples), None)
        range_series = match or range_series
    now = now_series.last if now_series else (range_series.last if range_series else None)
    latest = now_series or range_series
    at = (
        datetime.fromtimestamp(latest.samples[-1][0], UTC)
        if latest is not None and latest.samples
        else None
    )
    samples = range_series.samples if range_series else []
    direction, since = trend(samples)
    values = [v for _, v in samples]
    about = now_series or range_series
    return base.model_copy(
        update={
            "now": now,
            "at": at,
            "ago": samples[0][1] if samples else None,
            "ago_at": datetime.fromtimestamp(samples[0][0], UTC) if samples else None,
            "low": min(values) if values else None,
            "high": max(values) if values else None,
            "trend": direction,
            "since": since,
            "verdict": verdict(now, query),
            "labels": about.labels if about is not None else {},
        }
    )


def format_value(value: float | None, unit: str) -> str:
    """A number as people read it on a dashboard: 7.3 %, 850 µs, 1.2 GiB, 42/s."""
    if value is None:
        return "n/a"
    if unit == "ratio":
        return f"{value * 100:.3g} %"
    if unit == "percent":
        return f"{value:.3g} %"
    if unit == "seconds":
        magnitude = abs(value)
        if magnitude >= 1 or magnitude == 0:
            return f"{value:.3g} s"
        if magnitude >= 1e-3:
            return f"{value * 1e3:.3g} ms"
        if magnitude >= 1e-6:
            return f"{value * 1e6:.3g} µs"
        return f"{value * 1e9:.3g} ns"
    if unit == "bytes":
        for factor, name in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= factor:
                return f"{value / factor:.3g} {name}"
        return f"{value:.0f} B"
    if unit == "per_second":
        return f"{value:.3g}/s"
    if unit == "bool":
        return "yes (1)" if value >= 0.5 else "no (0)"
    if unit == "count":
        return f"{value:.0f}" if value == int(value) else f"{value:.3g}"
    if 1e4 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4g}"
