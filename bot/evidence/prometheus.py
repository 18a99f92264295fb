"""A read-only client of the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`).

Only the configured base URL (`PROMETHEUS_URL`, or a per-environment one from catalog.yaml) is
ever contacted: an expression found in an alert's link is sent here, never to the link's host.
Results come back as `Series` (labels + samples); NaN/Inf samples are dropped because they say
"no data", not a value. Range queries are sized so a 30-minute window is at most ~60 points —
enough to read a trend, cheap for Prometheus at market open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from pydantic import SecretStr
from yarl import URL

from bot.evidence.http import Endpoint, SourceUnavailable, get_json

DEFAULT_TIMEOUT_S = 1.5
MAX_POINTS = 60
MAX_SERIES = 50
"""Series kept from one answer (largest current value first): enough to name the worst ones."""


@dataclass(frozen=True)
class Series:
    """One time series: its labels and (unix seconds, value) samples, oldest first."""

    labels: dict[str, str]
    samples: list[tuple[float, float]] = field(default_factory=list)

    @property
    def last(self) -> float | None:
        return self.samples[-1][1] if self.samples else None


def step_for(window: timedelta, max_points: int = MAX_POINTS) -> int:
    """Whole seconds between points so `window` holds at most `max_points` points (≥ 1 s)."""
    seconds = window.total_seconds()
    return max(1, math.ceil(seconds / max(1, max_points - 1)))


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse_result(data: Any) -> list[Series]:
    """`data` of a query answer (vector, matrix, scalar) → series, largest last value first."""
    if not isinstance(data, dict):
        raise SourceUnavailable("answer without data")
    kind, result = data.get("resultType"), data.get("result")
    series: list[Series] = []
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        value = _number(result[1])
        series.append(Series({}, [(float(result[0]), value)] if value is not None else []))
    elif kind in ("vector", "matrix") and isinstance(result, list):
        for item in result:
            if not isinstance(item, dict):
                continue
            metric = item.get("metric")
            metric = metric if isinstance(metric, dict) else {}
            labels = {str(k): str(v) for k, v in metric.items()}
            raw = item.get("values") if kind == "matrix" else [item.get("value")]
            samples = []
            for pair in raw or []:
                if isinstance(pair, list) and len(pair) == 2:
                    value = _number(pair[1])
                    if value is not None:
                        samples.append((float(pair[0]), value))
            series.append(Series(labels, samples))
    else:
        raise SourceUnavailable(f"unexpected result type {kind!r}")
    series.sort(key=lambda s: -(s.last if s.last is not None else -math.inf))
    return series[:MAX_SERIES]


class PrometheusClient(Endpoint):
    """Instant and range queries against one configured Prometheus."""

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        bearer_token: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(
            url,
            session=session,
            timeout_s=timeout_s,
            bearer=bearer_token,
            username=username,
            password=password,
        )

    def _api(self, path: str) -> URL:
        return URL(self.display_url + "/api/v1/" + path)

    async def _query(self, path: str, params: dict[str, str], timeout_s: float | None) -> Any:
        body = await get_json(
            self._http(),
            self._api(path),
            params=params,
            headers=self._headers,
            timeout_s=timeout_s or self.timeout_s,
            what="prometheus",
        )
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise SourceUnavailable(f"query failed: {str(error)[:200]}" if error else "bad answer")
        return body.get("data")

    async def instant(
        self, expr: str, *, at: datetime | None = None, timeout_s: float | None = None
    ) -> list[Series]:
        """The expression's value now (or at `at`)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        if timeout_s:
            params["timeout"] = f"{max(1, int(timeout_s * 1000))}ms"
        return parse_result(await self._query("query", params, timeout_s))

    async def range(
        self,
        expr: str,
        *,
        window: timedelta = timedelta(minutes=30),
        end: datetime | None = None,
        step_s: int | None = None,
        timeout_s: float | None = None,
    ) -> list[Series]:
        """The expression over `window` up to `end` (now), at most ~60 points."""
        finish = end or datetime.now(UTC)
        step = step_s or step_for(window)
        # Start a whole number of steps before `end`, so the last point is `end` itself
        # (a fresh series would otherwise fall between the last step and now).
        start = finish - timedelta(seconds=step * int(window.total_seconds() // step))
        params = {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{finish.timestamp():.3f}",
            "step": str(step),
        }
        if timeout_s:
            params["timeout"] = f"{max(1, int(timeout_s * 1000))}ms"
        return parse_result(await self._query("query_range", params, timeout_s))

    def graph_url(self, expr: str, window: timedelta = timedelta(minutes=30)) -> str:
        """The configured Prometheus' own graph page for `expr` (what a human clicks)."""
        minutes = max(1, int(window.total_seconds() // 60))
        query = {"g0.expr": expr, "g0.range_input": f"{minutes}m"}
        return str(URL(self.display_url + "/graph").with_query(query))
