"""Read-only tools the model may call: specs from `prompts/tools.yaml`, execution here.

Why a box: every tool answer is text from outside (metrics labels, log lines, alert names, fix
notes), so each one passes the same door before the model sees it — input validated against
hard limits (PromQL length, range ≤ 24 h, ≤ 300 points, ≤ 100 log lines), the call made only to
a configured endpoint under a timeout, the output redacted, pseudonymised, cut to a token budget
and wrapped as untrusted data — and each call is recorded (tool, input, size, hash, latency)
for the audit record. A failing call is an error result the model can read, never an exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
import yaml
from anthropic.types import ToolParam
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.catalog import MAX_EXPR_CHARS
from bot.context.pseudonyms import Pseudonyms
from bot.evidence.alertmanager import AlertmanagerReader, as_mapping, matcher
from bot.evidence.http import SourceUnavailable
from bot.evidence.loki import LokiClient
from bot.evidence.models import ToolCall
from bot.evidence.prometheus import PrometheusClient, Series, step_for
from bot.evidence.reading import trend
from bot.models import Deploy
from bot.redact import redact, redact_obj
from bot.triage.runbooks import RunbookCatalog
from bot.triage.untrusted import wrap_untrusted

log = structlog.get_logger(__name__)

MAX_POINTS = 300
MAX_SERIES = 10
POINTS_SHOWN = 20
RESULT_TOKENS = 1500
"""Budget of one tool answer (≈ 4 characters a token): enough to read, cheap to resend."""
CHARS_PER_TOKEN = 4
_LABEL = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ToolInputError(ValueError):
    """The model's input breaks a tool's limits; the message goes back to it as the result."""


class PromQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_EXPR_CHARS)
    range_minutes: int | None = Field(default=None, ge=1, le=1440)
    step_seconds: int | None = Field(default=None, ge=1, le=3600)


class AlertsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: dict[str, str] = Field(default_factory=dict, max_length=8)
    include_suppressed: bool = True

    @field_validator("labels")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not re.match(_LABEL, k)]
        if bad:
            raise ValueError(f"not label names: {', '.join(bad)}")
        return value


class LogsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_EXPR_CHARS)
    minutes: int = Field(default=30, ge=1, le=1440)
    limit: int = Field(default=50, ge=1, le=100)


class DeployQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(min_length=1, max_length=200)
    hours: int = Field(default=24, ge=1, le=168)


class RunbookQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=200)


class PastQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(min_length=1, max_length=200)
    limit: int = Field(default=3, ge=1, le=5)


INPUTS: dict[str, type[BaseModel]] = {
    "prometheus_query": PromQuery,
    "alertmanager_alerts": AlertsQuery,
    "logs_query": LogsQuery,
    "deploy_history": DeployQuery,
    "runbook_search": RunbookQuery,
    "past_incidents": PastQuery,
}
PROGRESS = {
    "prometheus_query": "querying Prometheus",
    "alertmanager_alerts": "reading Alertmanager",
    "logs_query": "searching logs (Loki)",
    "deploy_history": "reading deploy history",
    "runbook_search": "searching runbooks",
    "past_incidents": "reading past incidents",
}


@dataclass(frozen=True)
class ToolSpecs:
    """`prompts/tools.yaml`: the instructions and each tool's name, description and schema."""

    instructions: str
    tools: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> ToolSpecs:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        tools = {str(t["name"]): dict(t) for t in data.get("tools") or []}
        unknown = set(tools) - set(INPUTS)
        if unknown:
            raise ValueError(f"{path}: no implementation for tools {sorted(unknown)}")
        return cls(str(data.get("instructions") or "").strip(), tools)


def _series_summary(series: Sequence[Series]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in list(series)[:MAX_SERIES]:
        values = [v for _, v in s.samples]
        direction, since = trend(s.samples)
        every = max(1, len(s.samples) // POINTS_SHOWN)
        points = [
            [datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S"), round(v, 6)]
            for t, v in s.samples[::every]
        ]
        out.append(
            {
                "labels": {k: v for k, v in s.labels.items() if k != "__name__"},
                "now": s.last,
                "first": values[0] if values else None,
                "min": min(values) if values else None,
                "max": max(values) if values else None,
                "trend": direction,
                "since": since.strftime("%H:%M UTC") if since else None,
                "points": points if len(s.samples) > 1 else [],
            }
        )
    return out


class ToolBox:
    """The six tools over the configured sources; a source left None answers "not configured"."""

    def __init__(
        self,
        specs: ToolSpecs,
        *,
        prometheus: PrometheusClient | None = None,
        alertmanager: AlertmanagerReader | None = None,
        loki: LokiClient | None = None,
        deploys: Callable[[str, datetime], Awaitable[list[Deploy]]] | None = None,
        runbooks: RunbookCatalog | None = None,
        past: Callable[[str, int], Awaitable[Sequence[BaseModel]]] | None = None,
        pseudonyms: Pseudonyms | None = None,
        timeout_s: float = 5.0,
        result_tokens: int = RESULT_TOKENS,
    ) -> None:
        self.specs = specs
        self.prometheus = prometheus
        self.alertmanager = alertmanager
        self.loki = loki
        self.deploys = deploys
        self.runbooks = runbooks
        self.past = past
        self.pseudonyms = pseudonyms
        self.timeout_s = timeout_s
        self.result_chars = result_tokens * CHARS_PER_TOKEN

    async def close(self) -> None:
        """The Loki client is the box's own; Prometheus and Alertmanager belong to the pack."""
        if self.loki is not None:
            await self.loki.close()

    def definitions(self) -> list[ToolParam]:
        """Tool definitions for the Messages API: only tools whose source is configured."""
        available = {
            "prometheus_query": self.prometheus is not None,
            "alertmanager_alerts": self.alertmanager is not None,
            "logs_query": self.loki is not None,
            "deploy_history": self.deploys is not None,
            "runbook_search": self.runbooks is not None,
            "past_incidents": self.past is not None,
        }
        return [
            ToolParam(
                name=name,
                description=str(spec.get("description", "")).strip(),
                input_schema=spec["input_schema"],
            )
            for name, spec in self.specs.tools.items()
            if available.get(name)
        ]

    async def call(
        self, name: str, raw: object, *, timeout_s: float | None = None
    ) -> tuple[str, ToolCall]:
        """Run one call; returns the text for the model's tool_result and the audit entry."""
        started = time.perf_counter()
        shown: dict[str, object] = raw if isinstance(raw, dict) else {"input": raw}
        ok, error = True, None
        try:
            model = INPUTS.get(name)
            if model is None or name not in self.specs.tools:
                raise ToolInputError(f"unknown tool {name!r}")
            try:
                parsed = model.model_validate(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "input"
                raise ToolInputError(f"invalid input: {where}: {first['msg']}") from None
            shown = parsed.model_dump()
            limit = timeout_s or self.timeout_s
            payload = await asyncio.wait_for(self._run(name, parsed, limit), limit)
            text = json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))
        except (ToolInputError, SourceUnavailable) as exc:
            ok, error = False, str(exc)
        except TimeoutError:
            ok, error = False, f"no answer within {timeout_s or self.timeout_s:g}s"
        if not ok:
            text = f"error: {error}"
        text = redact(text)
        if self.pseudonyms is not None:
            text = await self.pseudonyms.protect(text)
        if len(text) > self.result_chars:
            cut = len(text) - self.result_chars
            text = text[: self.result_chars] + f" … [{cut} characters cut: narrow the query]"
        wrapped = wrap_untrusted(f"tool {name}", text)
        record = ToolCall(
            tool=name,
            input=redact_obj(shown),
            ok=ok,
            error=error,
            result_chars=len(wrapped),
            result_sha256=hashlib.sha256(wrapped.encode()).hexdigest(),
            latency_ms=int((time.perf_counter() - started) * 1000),
        )
        log.info("tool_called", tool=name, ok=ok, chars=len(wrapped), ms=record.latency_ms)
        return wrapped, record

    async def _run(self, name: str, parsed: BaseModel, timeout_s: float) -> Any:
        if isinstance(parsed, PromQuery):
            return await self._prometheus(parsed, timeout_s)
        if isinstance(parsed, AlertsQuery):
            if self.alertmanager is None:
                raise SourceUnavailable("ALERTMANAGER_URL is not set")
            filters = [matcher(k, v) for k, v in sorted(parsed.labels.items())]
            alerts = await self.alertmanager.alerts(filters, timeout_s=timeout_s)
            rows = []
            for a in alerts[:30]:
                status = as_mapping(a.get("status"))
                if not parsed.include_suppressed and status.get("state") != "active":
                    continue
                rows.append(
                    {
                        "labels": a.get("labels"),
                        "state": status.get("state"),
                        "silenced_by": status.get("silencedBy") or [],
                        "inhibited_by": status.get("inhibitedBy") or [],
                        "starts_at": a.get("startsAt"),
                        "summary": as_mapping(a.get("annotations")).get("summary"),
                    }
                )
            return {"alerts": rows, "total": len(alerts)}
        if isinstance(parsed, LogsQuery):
            if self.loki is None:
                raise SourceUnavailable("LOKI_URL is not set")
            lines = await self.loki.lines(
                parsed.query, minutes=parsed.minutes, limit=parsed.limit, timeout_s=timeout_s
            )
            return {
                "lines": [
                    {"at": at.isoformat(timespec="milliseconds"), "labels": lbl, "line": line[:500]}
                    for at, lbl, line in lines
                ]
            }
        if isinstance(parsed, DeployQuery):
            if self.deploys is None:
                raise SourceUnavailable("no deploy history store")
            since = datetime.now(UTC) - timedelta(hours=parsed.hours)
            found = await self.deploys(parsed.service, since)
            return {"deploys": [d.model_dump(mode="json") for d in found[:20]]}
        if isinstance(parsed, RunbookQuery):
            assert self.runbooks is not None
            return {
                "runbooks": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "immediate_actions": r.sections["Immediate actions"][:6],
                        "rollback": r.sections["Rollback"][:6],
                    }
                    for r in self.runbooks.search(parsed.query, limit=3)
                ]
            }
        if isinstance(parsed, PastQuery):
            if self.past is None:
                raise SourceUnavailable("no incident memory")
            found_past = await self.past(parsed.service, parsed.limit)
            return {"incidents": [o.model_dump(mode="json") for o in found_past]}
        raise ToolInputError(f"unknown tool {name!r}")

    async def _prometheus(self, q: PromQuery, timeout_s: float) -> Any:
        if self.prometheus is None:
            raise SourceUnavailable("PROMETHEUS_URL is not set")
        if q.range_minutes is None:
            series = await self.prometheus.instant(q.query, timeout_s=timeout_s)
            return {"type": "instant", "series": _series_summary(series), "count": len(series)}
        window = timedelta(minutes=q.range_minutes)
        step = q.step_seconds or step_for(window, MAX_POINTS)
        if window.total_seconds() / step > MAX_POINTS:
            raise ToolInputError(
                f"step_seconds {step} gives more than {MAX_POINTS} points over "
                f"{q.range_minutes} min: use at least {step_for(window, MAX_POINTS)}"
            )
        series = await self.prometheus.range(
            q.query, window=window, step_s=step, timeout_s=timeout_s
        )
        return {
            "type": "range",
            "minutes": q.range_minutes,
            "step_seconds": step,
            "series": _series_summary(series),
            "count": len(series),
            "graph": self.prometheus.graph_url(q.query, window),
        }
