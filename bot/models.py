"""Shared pydantic models: the one vocabulary every stage of the pipeline speaks.

Parsers produce `Alert`s, the context store produces a `Context`, the wizard (LLM or runbook
fallback) produces a `TriageAnswer`, and the renderer turns that into Slack blocks. Keeping them in
one module means a field renamed here fails loudly everywhere it is used.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from bot.answer import extra, part
from bot.evidence.models import EvidencePack, ToolCall

AlertStatus = Literal["firing", "resolved"]
Severity = Literal["critical", "high", "warning", "info", "unknown"]
SEVERITY_RANK: dict[str, int] = {"critical": 0, "high": 1, "warning": 2, "info": 3, "unknown": 4}
"""Most severe first: sort keys for alerts, incidents and status lists."""
RollbackSource = Literal["model", "history", "none"]
AlertSource = Literal[
    "alertmanager",
    "grafana",
    "datadog",
    "pagerduty",
    "opsgenie",
    "sentry",
    "cloudwatch",
    "zabbix",
    "uptime_kuma",
    "healthchecks",
    "icinga",
    "robusta",
    "kibana",
    "splunk",
    "newrelic",
    "generic",
]


class AlertLinks(BaseModel):
    """Where a human goes next: the alert's runbook, its dashboard, and the source's own page."""

    runbook: str | None = None
    dashboard: str | None = None
    source: str | None = None
    panel: str | None = None
    silence: str | None = None
    """The source's own "silence this" page (Grafana's `silenceURL`), when it gives one."""


class Alert(BaseModel):
    """One normalized alert, whatever tool raised it.

    `status` is per alert (an Alertmanager group can mix firing and resolved). `ends_at` is None
    when the source says "no end" (Alertmanager's 0001-01-01 sentinel). `fingerprint` is the
    source's own id when it has one, else a stable hash of source + name + identifying labels.
    """

    model_config = ConfigDict(extra="forbid")

    source: AlertSource
    status: AlertStatus
    name: str
    severity: Severity = "unknown"
    service: str | None = None
    environment: str | None = None
    summary: str = ""
    description: str = ""
    fingerprint: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    links: AlertLinks = Field(default_factory=AlertLinks)
    group_key: str | None = None
    truncated: int = 0
    count: int = 1
    """How many alerts this entry stands for: a default-template `[FIRING:3]` post is one entry
    for three alerts, and the incident counts three."""
    recognised: bool = True
    """False when no parser knew the format and the generic one guessed from the text: the card
    says so, so nobody trusts a guessed status or severity as if it were read."""


class Deploy(BaseModel):
    """A deploy event as CI reports it to `/hooks/deploy`; the only source of rollback targets."""

    model_config = ConfigDict(extra="ignore")

    service: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=200)
    previous_version: str | None = Field(default=None, max_length=200)
    environment: str = Field(default="production", max_length=100)
    actor: str = Field(default="unknown", max_length=200)
    at: datetime
    strategy: str | None = Field(default=None, max_length=100)
    revision: str | None = Field(default=None, max_length=100)
    """The orchestrator's revision of THIS deploy (Kubernetes rollout / Helm release revision), so
    a rollback to it can name `--to-revision` instead of guessing; None when CI did not say."""


class AlertRecord(BaseModel):
    """What the context store remembers about one fingerprint across posts and webhooks."""

    alert: Alert
    first_seen: datetime
    last_seen: datetime
    occurrences: int = 1
    channel: str | None = None
    thread_ts: str | None = None


class PastAnswer(BaseModel):
    """A short memory of an earlier triage for the same fingerprint."""

    at: datetime
    summary: str
    fallback: bool
    thread: str | None = None


class RunbookRef(BaseModel):
    """The runbook the deterministic matcher picked, as it is shown and linked."""

    id: str
    title: str
    path: str
    url: str | None = None
    score: int = 0


class IncidentOutcome(BaseModel):
    """How an incident ended: kept per service and fingerprint so the next one starts with
    "last time (2026-11-02) this was fixed by …" instead of from scratch."""

    incident_id: str
    title: str
    services: list[str] = Field(default_factory=list)
    fingerprints: list[str] = Field(default_factory=list)
    opened_at: datetime
    resolved_at: datetime
    duration_s: float
    resolved_by: str
    analysis_summary: str | None = None
    advised: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    fix_note: str | None = None
    thread: str


class Context(BaseModel):
    """Every fact the store found that is relevant to one alert, handed to the wizard verbatim.

    `operator_facts` and `guidance` are computed by the bot from operator-owned data (service
    catalog, trading calendars, freeze calendar) and go to the model as trusted facts;
    `past_incidents` hold human-written fix notes and so go as untrusted data.
    """

    alert: Alert
    group: list[Alert] = Field(default_factory=list)
    record: AlertRecord | None = None
    deploys: list[Deploy] = Field(default_factory=list)
    related: list[AlertRecord] = Field(default_factory=list)
    past_answers: list[PastAnswer] = Field(default_factory=list)
    runbook: RunbookRef | None = None
    incident_facts: str | None = None
    past_incidents: list[IncidentOutcome] = Field(default_factory=list)
    operator_facts: list[str] = Field(default_factory=list)
    guidance: list[str] = Field(default_factory=list)
    evidence: EvidencePack | None = None
    """Live readings from Prometheus/Alertmanager (`bot/evidence/`), gathered before the model."""


class RollbackPlan(BaseModel):
    """How to undo the most recent change. `target_version` comes only from deploy history."""

    target_version: str | None = Field(
        default=None,
        description=(
            "Version to roll back to. ONLY a version that appears in the deploy history given in "
            "the context; null when no deploy history is known."
        ),
    )
    target_known: bool = Field(
        default=False,
        description="True only when target_version was taken from the deploy history.",
    )
    steps: list[str] = Field(default_factory=list, description="Ordered rollback steps.")
    verification: list[str] = Field(
        default_factory=list, description="Checks that prove the rollback worked."
    )
    abort_criteria: list[str] = Field(
        default_factory=list, description="When to stop the rollback and escalate instead."
    )
    preconditions: list[str] = Field(
        default_factory=list,
        description=(
            "What must be true before rolling back: previous artefact available, database "
            "migrations backward compatible (ask if unknown), change ticket / freeze exception."
        ),
    )
    blast_radius: str | None = Field(
        default=None,
        description=(
            "What the rollback touches (service, environment, dependants); null if unknown."
        ),
    )
    # Filled in by the bot, never by the model: these are left out of the structured-output
    # schema so the model cannot claim its plan came from history or pick the suspect deploy.
    strategy: SkipJsonSchema[str] = "unknown"
    """The suspect deploy's recorded strategy (normalised: blue-green, canary, rolling,
    kubernetes, helm), or 'unknown' when deploy history does not record one."""
    deploy: SkipJsonSchema[Deploy | None] = None
    """The suspect deploy the plan undoes (newest deploy at or before the alert started)."""
    source: SkipJsonSchema[RollbackSource] = "none"
    """'model': the model's plan, checked against history; 'history': built from deploy history;
    'none': no plan could be grounded (no model plan and no history)."""
    replaced: SkipJsonSchema[bool] = False
    """True when the model's plan named versions not in deploy history and was replaced."""
    rejected_versions: SkipJsonSchema[list[str]] = Field(default_factory=list)
    """The version strings of the model's plan that deploy history does not contain."""


class TriageAnswer(BaseModel):
    """The wizard's five-part answer (parts defined once in `bot.answer.PARTS`); also the
    structured-output schema sent to the model."""

    summary: str = Field(description="One or two sentences: what is happening and how bad.")
    immediate_actions: list[str] = Field(description=part("immediate_actions").description)
    implementation_plan: list[str] = Field(description=part("implementation_plan").description)
    monitoring_strategy: list[str] = Field(description=part("monitoring_strategy").description)
    risk_mitigation: list[str] = Field(description=part("risk_mitigation").description)
    rollback: RollbackPlan
    success_criteria: list[str] = Field(description=part("success_criteria").description)
    clarifying_questions: list[str] = Field(
        default_factory=list, description=extra("clarifying_questions").description
    )
    confidence: Literal["low", "medium", "high"] = "low"
    evidence: list[str] = Field(default_factory=list, description=extra("evidence").description)
    compliance_notes: list[str] = Field(
        default_factory=list, description=extra("compliance_notes").description
    )


class Usage(BaseModel):
    """Token usage of one model call and what it cost, in Decimal dollars."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_1h_tokens: int = 0
    """Of `cache_creation_input_tokens`, those written with the 1-hour TTL (priced 2x input)."""
    thinking_tokens: int = 0
    """Of `output_tokens`, those the model spent thinking (already included, billed as output)."""
    inference_geo: str | None = None
    service_tier: str | None = None
    cost_usd: Decimal | None = Decimal("0")
    """None when the model has no published price in bot/triage/prices.yaml: "unknown", never
    another model's price."""


class TriageResult(BaseModel):
    """An answer plus how it was produced: what the renderer shows and the audit keeps."""

    answer: TriageAnswer
    fallback: bool
    fallback_reason: str | None = None
    model: str | None = None
    prompt_hash: str
    usage: Usage = Field(default_factory=Usage)
    runbook: RunbookRef | None = None
    latency_ms: int = 0
    notes: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """Read-only tool calls the model made before answering (bot/triage/investigate.py)."""
    text: str | None = None
    """A streamed answer exactly as posted (guarded Markdown); `answer` is parsed from it."""
    interrupted: bool = False
    """The model stopped mid-stream: text was shown, and this (runbook) answer replaces it."""
