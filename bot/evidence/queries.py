"""Which PromQL to read for an alert: its own expression first, then the catalog's signals.

An Alertmanager/Prometheus alert carries the rule's expression in its "Source" link
(`generatorURL`: `…/graph?g0.expr=<PromQL>`); a Grafana Explore link carries it in `left` /
`panes` JSON. The link is only *parsed* here — its host is never contacted: the expression is
sent to the configured Prometheus alone. Pure functions, no I/O, easy to test and fuzz.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from bot.catalog import MAX_EXPR_CHARS, EvidenceQuery, Service
from bot.models import Alert
from bot.text import clean_text

Origin = Literal["alert", "grafana", "catalog"]
MAX_ALERT_QUERIES = 3
MAX_CATALOG_QUERIES = 8


@dataclass(frozen=True)
class Query:
    """One expression to evaluate, where it came from, and how to read its value."""

    name: str
    expr: str
    origin: Origin
    unit: str = ""
    warn: float | None = None
    crit: float | None = None
    below: bool = False
    condition: str | None = None
    """The alert rule's own comparison (`> 0.05`), when its value side is what is read."""

    @property
    def trusted(self) -> bool:
        """Catalog queries are the operators' own text; alert expressions came from outside."""
        return self.origin == "catalog"


def clean_expr(raw: str) -> str | None:
    """A usable expression: printable, trimmed, within the length limit; else None."""
    expr = " ".join(clean_text(raw).split())
    return expr if 0 < len(expr) <= MAX_EXPR_CHARS else None


def _grafana_exprs(value: str) -> Iterator[str]:
    """`expr` fields of a Grafana Explore `left=` / `panes=` JSON parameter."""
    try:
        data: Any = json.loads(value)
    except ValueError:
        return
    panes = data.values() if isinstance(data, dict) and "queries" not in data else [data]
    for pane in panes:
        queries = pane.get("queries") if isinstance(pane, dict) else None
        for query in queries if isinstance(queries, list) else []:
            if isinstance(query, dict) and isinstance(query.get("expr"), str):
                yield query["expr"]


def exprs_in_url(url: str | None) -> list[tuple[Origin, str]]:
    """PromQL carried by a Prometheus graph link (`g<N>.expr`) or a Grafana Explore link."""
    if not url:
        return []
    try:
        params = parse_qs(urlsplit(url).query, keep_blank_values=False)
    except ValueError:
        return []
    found: list[tuple[Origin, str]] = []
    numbered = sorted(
        (k for k in params if k.startswith("g") and k.endswith(".expr") and k[1:-5].isdigit()),
        key=lambda k: int(k[1:-5]),
    )
    for key in numbered:
        found += [("alert", v) for v in params[key]]
    for key in ("left", "panes"):
        for value in params.get(key, []):
            found += [("grafana", e) for e in _grafana_exprs(value)]
    return found


_OPS = (">=", "<=", "==", "!=", ">", "<")
_CLOSE = {"(": ")", "{": "}", "[": "]"}


def split_condition(expr: str) -> tuple[str, str, float] | None:
    """`<value expr> <op> <number>` at the top level → (value expr, op, number), else None.

    An alert rule's expression returns nothing once the condition stops holding, so the pack
    reads the left side (the value itself) and keeps the number as the alert's threshold.
    Anything more complex (`and`, `unless`, `bool`, a non-literal right side) is left whole.
    """
    depth: list[str] = []
    quote: str | None = None
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(expr):
        char = expr[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in _CLOSE:
            depth.append(_CLOSE[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif not depth:
            op = next((o for o in _OPS if expr.startswith(o, i)), None)
            if op is not None:
                found.append((i, op))
                i += len(op)
                continue
        i += 1
    if len(found) != 1:
        return None
    at, op = found[0]
    left, right = expr[:at].strip(), expr[at + len(op) :].strip()
    lowered = f" {left.lower()} "
    if not left or any(f" {word} " in lowered for word in ("and", "or", "unless")):
        return None
    try:
        number = float(right)
    except ValueError:
        return None
    return left, op, number


def alert_queries(alert: Alert) -> list[Query]:
    """The alert's own expressions (source link, then dashboard link), deduplicated."""
    seen: set[str] = set()
    queries: list[Query] = []
    for url in (alert.links.source, alert.links.dashboard):
        for origin, raw in exprs_in_url(url):
            expr = clean_expr(raw)
            if expr is None or expr in seen:
                continue
            seen.add(expr)
            label = "alert expression" if origin == "alert" else "Grafana panel query"
            name = f"{label}: {alert.name}"[:80]
            condition = split_condition(expr)
            if condition is None:
                queries.append(Query(name=name, expr=expr, origin=origin))
                continue
            value, op, number = condition
            queries.append(
                Query(
                    name=name,
                    expr=value,
                    origin=origin,
                    crit=number,
                    below=op in ("<", "<="),
                    condition=f"{op} {number:g}",
                )
            )
    return queries[:MAX_ALERT_QUERIES]


def catalog_queries(service: Service | None) -> list[Query]:
    """The service's catalog signals, with their units and thresholds."""
    if service is None:
        return []
    return [_from_spec(q) for q in service.queries[:MAX_CATALOG_QUERIES]]


def _from_spec(spec: EvidenceQuery) -> Query:
    return Query(
        name=spec.name,
        expr=spec.expr,
        origin="catalog",
        unit=spec.unit,
        warn=spec.warn,
        crit=spec.crit,
        below=spec.below,
    )
