"""The service catalog: who owns a service, how critical it is, which venues and desks it serves.

An alert names a service ("order-gateway", "ORDER_GATEWAY", "ogw", "order-gateway-prod-7f9c");
the answer needs the owning team's Slack group, the tier that decides how loud to be, the venues
whose hours matter (see `bot.market`) and who else breaks with it. That knowledge lives with the
teams in `catalog.yaml`, not in code. A missing file is an empty catalog (the bot still answers,
just without impact lines); an invalid one stops start-up with `file:line: where: what`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from bot.market.venues import resolve_venue
from bot.yamldoc import error_at, read_yaml, validate

log = structlog.get_logger(__name__)

Tier = Literal[1, 2, 3]
Unit = Literal["", "ratio", "percent", "seconds", "bytes", "count", "per_second", "bool"]
MAX_EXPR_CHARS = 2000


class EvidenceQuery(BaseModel):
    """A PromQL signal the evidence pack reads for a service, with thresholds to judge it.

    Golden signals (latency percentiles, error ratio, saturation) and the trading ones (FIX
    session state and sequence gaps, market-data feed lag and gaps, PTP/NTP clock offset,
    order-gateway p99). `warn`/`crit` are upper bounds, or lower bounds when `below` is true
    (sessions logged on, feed messages per second)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    expr: str = Field(min_length=1, max_length=MAX_EXPR_CHARS)
    unit: Unit = ""
    warn: float | None = None
    crit: float | None = None
    below: bool = False


def normalise(name: str) -> str:
    """The matching key of a service name: case-folded, `_`, `.` and spaces read as `-`."""
    return re.sub(r"[-_.\s]+", "-", name.strip().casefold()).strip("-")


class ServiceSpec(BaseModel):
    """One service as written in catalog.yaml (the name is the mapping key)."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=200)
    slack_group: str | None = Field(default=None, pattern=r"^S[A-Z0-9]{2,20}$")
    """Slack user-group id (S…) to mention for this service's incidents."""
    tier: Tier
    venues: list[str] = Field(default_factory=list)
    desks: str = Field(default="", max_length=300)
    """Who feels it, in trader words: "EU equities order entry"."""
    aliases: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    runbooks: list[str] = Field(default_factory=list)
    dashboards: list[HttpUrl] = Field(default_factory=list)
    queries: list[EvidenceQuery] = Field(default_factory=list, max_length=12)
    """Signals the evidence pack reads for this service's alerts (`bot/evidence/`)."""

    @field_validator("venues")
    @classmethod
    def _mics(cls, venues: list[str]) -> list[str]:
        """Store MICs ("LSE" → "XLON") so every later lookup speaks one vocabulary."""
        return list(dict.fromkeys(resolve_venue(v) for v in venues))


class Service(ServiceSpec):
    """A catalog entry with its canonical name."""

    name: str

    @property
    def mention(self) -> str | None:
        """Slack mention syntax for the owning group, when one is recorded."""
        return group_mention(self.slack_group, self.owner)


def group_mention(group: str | None, owner: str | None) -> str | None:
    """`<!subteam^S0RISKTEC|@Risk Technology>`: the group mention with the team's name as its
    label, so the owner reads by name wherever Slack cannot resolve the group (a client without
    it, a terminal, the audit) instead of as a bare "@subteam"."""
    if not group:
        return None
    name = "".join(c for c in (owner or "") if c not in "<>|&").strip()
    return f"<!subteam^{group}|@{name}>" if name else f"<!subteam^{group}>"


class CatalogFile(BaseModel):
    """The file's shape: `services: {name: ServiceSpec}`."""

    model_config = ConfigDict(extra="forbid")

    services: dict[str, ServiceSpec] = Field(default_factory=dict)
    prometheus: dict[str, HttpUrl] = Field(default_factory=dict)
    """Per-environment or per-cluster Prometheus base URLs (an alert's `cluster` label, then
    its environment, picks one; otherwise `PROMETHEUS_URL`). Operator-configured endpoints."""


class ServiceCatalog:
    """Services by name and alias, with dependency look-ups for blast radius."""

    def __init__(
        self, services: Iterable[Service] = (), prometheus: dict[str, str] | None = None
    ) -> None:
        self.prometheus: dict[str, str] = {normalise(k): v for k, v in (prometheus or {}).items()}
        self._services: dict[str, Service] = {}
        self._index: dict[str, str] = {}
        for service in services:
            self._services[service.name] = service
            for key in (service.name, *service.aliases):
                self._index[normalise(key)] = service.name

    @classmethod
    def load(cls, path: Path, runbook_ids: Collection[str] | None = None) -> ServiceCatalog:
        """Read `path`. Missing → empty catalog and a warning. Unknown dependencies, duplicate
        aliases and (when `runbook_ids` is given) unknown runbooks are errors with their line."""
        if not path.exists():
            log.warning("service_catalog_missing", path=str(path))
            return cls()
        data, node = read_yaml(path)
        parsed = validate(CatalogFile, {} if data is None else data, node, path, None)
        owners: dict[str, str] = {}
        for name in parsed.services:
            for key in (name, *parsed.services[name].aliases):
                where = ("services", name) if key == name else ("services", name, "aliases")
                other = owners.setdefault(normalise(key), name)
                if other != name:
                    raise error_at(path, node, where, f"{key!r} already names {other!r}")
        for name, spec in parsed.services.items():
            for i, dep in enumerate(spec.depends_on):
                if normalise(dep) not in owners:
                    raise error_at(
                        path, node, ("services", name, "depends_on", i), f"unknown service {dep!r}"
                    )
            for i, runbook in enumerate(spec.runbooks):
                if runbook_ids is not None and runbook not in runbook_ids:
                    raise error_at(
                        path,
                        node,
                        ("services", name, "runbooks", i),
                        f"unknown runbook {runbook!r}",
                    )
        services = [
            Service(
                name=name,
                **spec.model_dump(exclude={"depends_on"}),
                depends_on=[owners[normalise(d)] for d in spec.depends_on],
            )
            for name, spec in parsed.services.items()
        ]
        log.info("service_catalog_loaded", path=str(path), services=len(services))
        return cls(services, {k: str(v) for k, v in parsed.prometheus.items()})

    def __len__(self) -> int:
        return len(self._services)

    def all(self) -> list[Service]:
        return list(self._services.values())

    def get(self, name: str | None) -> Service | None:
        """By name or alias, ignoring case and `-`/`_`; else the longest canonical name the query
        starts with followed by `-` (pods and instances: "order-gateway-prod-7f9c"). Aliases are
        not prefix-matched: a short alias ("risk") would claim "risk-reporting-batch"."""
        if not name:
            return None
        key = normalise(name)
        if key in self._index:
            return self._services[self._index[key]]
        names = {normalise(n): n for n in self._services}
        prefixes = [k for k in names if key.startswith(k + "-")]
        return self._services[names[max(prefixes, key=len)]] if prefixes else None

    def dependents(self, name: str, transitive: bool = True) -> list[str]:
        """Services that depend on `name` (directly, or through others when `transitive`)."""
        service = self.get(name)
        if service is None:
            return []
        found: list[str] = []
        queue = deque([service.name])
        while queue:
            current = queue.popleft()
            for other in self._services.values():
                if current in other.depends_on and other.name not in found:
                    if other.name == service.name:
                        continue
                    found.append(other.name)
                    if transitive:
                        queue.append(other.name)
        return found

    def venues_at_risk(self, name: str) -> list[str]:
        """Its own venues plus those of everything that depends on it: a Kafka outage matters
        while any venue its consumers trade on is open."""
        service = self.get(name)
        if service is None:
            return []
        venues = list(service.venues)
        for dep in self.dependents(service.name):
            venues.extend(self._services[dep].venues)
        return list(dict.fromkeys(venues))

    def impact_line(self, name: str) -> str | None:
        """One plain-text line for the answer header (no mentions: the renderer decides)."""
        service = self.get(name)
        if service is None:
            return None
        parts = [f"{service.name} (tier {service.tier})"]
        if service.desks:
            parts.append(service.desks)
        if service.venues:
            parts.append("venues " + ", ".join(service.venues))
        owner = service.owner + (f" ({service.slack_group})" if service.slack_group else "")
        parts.append(f"owner {owner}")
        dependents = self.dependents(service.name)
        if dependents:
            parts.append("also hits " + ", ".join(dependents))
        return " — ".join(parts)
