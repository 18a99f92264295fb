"""The evidence pack: what the monitoring systems say about an alert, gathered before the model.

Every source runs at once, each under its own short timeout, and the whole pack under
`total_s` (2 s): a slow or broken Prometheus costs the analysis two seconds at most and shows up
as "not available (why)", never as a crash or a missing answer. The card is posted before the
analysis starts, so it never waits for the pack. Only configured endpoints are contacted
(`PROMETHEUS_URL`, catalog.yaml's per-environment Prometheus, `ALERTMANAGER_URL`); links inside
alerts are parsed for their expression and never fetched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime, timedelta

import structlog

from bot.catalog import ServiceCatalog, normalise
from bot.evidence.alertmanager import AlertmanagerReader
from bot.evidence.http import SourceUnavailable
from bot.evidence.models import EvidenceItem, EvidencePack
from bot.evidence.prometheus import PrometheusClient
from bot.evidence.queries import Query, alert_queries, catalog_queries
from bot.evidence.reading import read
from bot.models import Alert, Context
from bot.settings import Settings

log = structlog.get_logger(__name__)

SOURCE_TIMEOUT_S = 1.5
TOTAL_S = 2.0
WINDOW = timedelta(minutes=30)
MAX_DEPLOY_LINES = 3


class EvidenceGatherer:
    """Builds one `EvidencePack` per analysis from the configured monitoring endpoints."""

    def __init__(
        self,
        *,
        prometheus: PrometheusClient | None = None,
        prometheus_by_scope: Mapping[str, PrometheusClient] | None = None,
        alertmanager: AlertmanagerReader | None = None,
        services: ServiceCatalog | None = None,
        source_timeout_s: float = SOURCE_TIMEOUT_S,
        total_s: float = TOTAL_S,
        window: timedelta = WINDOW,
    ) -> None:
        self.prometheus = prometheus
        self.by_scope = {normalise(k): v for k, v in (prometheus_by_scope or {}).items()}
        self.alertmanager = alertmanager
        self.services = services or ServiceCatalog()
        self.source_timeout_s = min(source_timeout_s, total_s)
        self.total_s = total_s
        self.window = window

    @classmethod
    def from_settings(cls, settings: Settings, services: ServiceCatalog) -> EvidenceGatherer:
        """`PROMETHEUS_URL` (+ auth), catalog.yaml's `prometheus:` per cluster/environment, and
        `ALERTMANAGER_URL`: the only endpoints the pack will ever contact."""
        budget = settings.evidence_budget_s

        def client(url: str) -> PrometheusClient:
            return PrometheusClient(
                url,
                bearer_token=settings.prometheus_bearer_token,
                username=settings.prometheus_username,
                password=settings.prometheus_password,
                timeout_s=budget * 0.75,
            )

        return cls(
            prometheus=client(str(settings.prometheus_url)) if settings.prometheus_url else None,
            prometheus_by_scope={k: client(v) for k, v in services.prometheus.items()},
            alertmanager=(
                AlertmanagerReader(str(settings.alertmanager_url), timeout_s=budget * 0.75)
                if settings.alertmanager_url
                else None
            ),
            services=services,
            source_timeout_s=budget * 0.75,
            total_s=budget,
        )

    async def close(self) -> None:
        for client in {id(c): c for c in [self.prometheus, *self.by_scope.values()] if c}.values():
            await client.close()
        if self.alertmanager is not None:
            await self.alertmanager.close()

    def prometheus_for(self, alert: Alert) -> PrometheusClient | None:
        """The alert's cluster's Prometheus, else its environment's, else `PROMETHEUS_URL`."""
        for scope in (alert.labels.get("cluster"), alert.environment):
            if scope and normalise(scope) in self.by_scope:
                return self.by_scope[normalise(scope)]
        return self.prometheus

    def queries(self, alert: Alert) -> list[Query]:
        """The alert's own expressions first, then its service's catalog signals."""
        own = alert_queries(alert)
        seen = {q.expr for q in own}
        extra = [q for q in catalog_queries(self.services.get(alert.service)) if q.expr not in seen]
        return own + extra

    async def gather(self, context: Context) -> EvidencePack:
        """Every source at once; whatever is not back within `total_s` is "not available"."""
        started = time.perf_counter()
        alert = context.alert
        client = self.prometheus_for(alert)
        jobs: list[tuple[EvidenceItem, Awaitable[EvidenceItem]]] = []
        for query in self.queries(alert):
            placeholder = EvidenceItem(
                source="prometheus",
                name=query.name,
                query=query.expr,
                origin=query.origin,
                trusted=query.trusted,
            )
            if client is None:
                unset = _unavailable(placeholder, "PROMETHEUS_URL is not set")
                jobs.append((placeholder, _done(unset)))
            else:
                jobs.append((placeholder, self._reading(client, query, placeholder)))
        if self.alertmanager is not None:
            placeholder = EvidenceItem(source="alertmanager", name="Alertmanager state")
            jobs.append((placeholder, self._alertmanager(self.alertmanager, alert, placeholder)))
        tasks = [asyncio.ensure_future(job) for _, job in jobs]
        if tasks:
            await asyncio.wait(tasks, timeout=self.total_s)
        items: list[EvidenceItem] = []
        for (placeholder, _), task in zip(jobs, tasks, strict=True):
            if task.done() and not task.cancelled() and task.exception() is None:
                items.append(task.result())
                continue
            if not task.done():
                task.cancel()
                reason = f"not back within the pack's {self.total_s:g}s budget"
            else:
                exc = task.exception() if not task.cancelled() else None
                log.warning("evidence_source_failed", name=placeholder.name, error=repr(exc)[:200])
                reason = f"failed ({type(exc).__name__})" if exc else "cancelled"
            items.append(_unavailable(placeholder, reason))
        items += _store_items(context)
        elapsed = int((time.perf_counter() - started) * 1000)
        pack = EvidencePack(
            at=datetime.now(UTC),
            items=items,
            gathered_ms=elapsed,
            prometheus=client.display_url if client else None,
        )
        log.info(
            "evidence_gathered",
            ms=elapsed,
            items=len(items),
            unavailable=sum(1 for i in items if i.status == "unavailable"),
        )
        return pack

    async def _reading(
        self, client: PrometheusClient, query: Query, placeholder: EvidenceItem
    ) -> EvidenceItem:
        started = time.perf_counter()
        timeout = self.source_timeout_s
        try:
            instant, window = await asyncio.gather(
                client.instant(query.expr, timeout_s=timeout),
                client.range(query.expr, window=self.window, timeout_s=timeout),
            )
        except SourceUnavailable as exc:
            return _unavailable(placeholder, str(exc), started)
        graph = client.graph_url(query.expr, self.window)
        item = read(query, instant, window, graph, int(self.window.total_seconds() // 60))
        return item.model_copy(update={"latency_ms": _ms(started)})

    async def _alertmanager(
        self, reader: AlertmanagerReader, alert: Alert, placeholder: EvidenceItem
    ) -> EvidenceItem:
        started = time.perf_counter()
        try:
            item = await reader.state(alert, timeout_s=self.source_timeout_s)
        except SourceUnavailable as exc:
            return _unavailable(placeholder, str(exc), started)
        return item.model_copy(update={"latency_ms": _ms(started)})


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def _done(item: EvidenceItem) -> EvidenceItem:
    return item


def _unavailable(item: EvidenceItem, reason: str, started: float | None = None) -> EvidenceItem:
    update: dict[str, object] = {"status": "unavailable", "reason": reason}
    if started is not None:
        update["latency_ms"] = _ms(started)
    return item.model_copy(update=update)


def _store_items(context: Context) -> list[EvidenceItem]:
    """Deploys (from the authenticated deploy hook) and past incidents (human fix notes)."""
    items: list[EvidenceItem] = []
    service = context.alert.service or "the service"
    if context.deploys:
        newest = sorted(context.deploys, key=lambda d: d.at, reverse=True)
        lines = [
            f"{d.service} {d.previous_version or '?'} -> {d.version} in {d.environment} by "
            f"{d.actor} at {d.at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
            for d in newest[:MAX_DEPLOY_LINES]
        ]
        if len(newest) > MAX_DEPLOY_LINES:
            lines.append(f"{len(newest) - MAX_DEPLOY_LINES} older deploy(s) in the window")
        items.append(
            EvidenceItem(source="deploys", name="deploy history", trusted=True, lines=lines)
        )
    else:
        items.append(
            EvidenceItem(
                source="deploys",
                name="deploy history",
                status="empty",
                trusted=True,
                reason=f"no deploy of {service} recorded in the window",
            )
        )
    if context.past_incidents:
        lines = [
            f"{o.incident_id} {o.resolved_at.date().isoformat()} lasted {int(o.duration_s // 60)}m"
            + (f", fixed by: {o.fix_note[:200]}" if o.fix_note else ", no fix recorded")
            for o in context.past_incidents[:3]
        ]
        items.append(EvidenceItem(source="past_incidents", name="past incidents", lines=lines))
    return items
