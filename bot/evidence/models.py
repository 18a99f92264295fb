"""What the evidence pack holds: one item per source or query, measured before the model.

An item is either a reading (a PromQL value now, 30 minutes ago, its trend and verdict against
the catalog's thresholds) or a few lines (Alertmanager state, deploys, past incidents), or
"not available" with the reason. `trusted` says whether its text is the operators' own (catalog
queries, the bot's store) or came from outside (an alert's expression, labels Prometheus or
Alertmanager return): the latter goes to the model marked as untrusted data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SourceKind = Literal["prometheus", "alertmanager", "deploys", "past_incidents", "logs"]
Status = Literal["ok", "empty", "unavailable"]
Trend = Literal["rising", "falling", "flat", "unknown"]
Verdict = Literal["ok", "warn", "crit"]


class EvidenceItem(BaseModel):
    """One source's contribution to the pack."""

    source: SourceKind
    name: str
    status: Status = "ok"
    reason: str | None = None
    """Why it is not available (timeout, refused, HTTP status with the API's error)."""
    trusted: bool = False
    query: str | None = None
    origin: str | None = None
    """Where the query came from: alert, grafana or catalog."""
    unit: str = ""
    warn: float | None = None
    crit: float | None = None
    below: bool = False
    condition: str | None = None
    """The alert rule's comparison (`> 0.05`) when the reading is its value side."""
    now: float | None = None
    at: datetime | None = None
    """When `now` was measured (the instant query's evaluation time)."""
    ago: float | None = None
    """The value at the start of the window (30 minutes ago)."""
    ago_at: datetime | None = None
    """When `ago` was measured: later than the window's start when the series is younger."""
    window_min: int = 30
    low: float | None = None
    high: float | None = None
    trend: Trend = "unknown"
    since: datetime | None = None
    """When the current rise or fall began, when the window shows one."""
    verdict: Verdict | None = None
    series: int = 0
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels of the series the reading is about (the worst one)."""
    graph_url: str | None = None
    lines: list[str] = Field(default_factory=list)
    latency_ms: int = 0


class EvidencePack(BaseModel):
    """Everything gathered for one analysis, in the order it is shown."""

    at: datetime
    items: list[EvidenceItem] = Field(default_factory=list)
    gathered_ms: int = 0
    prometheus: str | None = None
    """The configured Prometheus the readings came from (no credentials)."""

    @property
    def readings(self) -> list[EvidenceItem]:
        return [i for i in self.items if i.source == "prometheus" and i.status == "ok"]


class ToolCall(BaseModel):
    """One read-only tool call the model made, as the audit record keeps it."""

    tool: str
    input: dict[str, object] = Field(default_factory=dict)
    """The input as validated (redacted); the raw input when validation refused it."""
    ok: bool = True
    error: str | None = None
    result_chars: int = 0
    result_sha256: str = ""
    """Of the exact text returned to the model (after redaction, cut and wrapping)."""
    latency_ms: int = 0
