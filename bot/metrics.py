"""Self-metrics (Prometheus): is the bot keeping up, and what does the wizard cost?

One registry for the process, incremented where things happen (intake, workers, the wizard, the
Slack replier) and served at `GET /metrics`. Queue depth and the age of the oldest unacked job are
read from Redis at scrape time, so they are right even with several replicas.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "wizard_events",
    "Slack events, commands and webhook deliveries offered to intake, by job kind and outcome.",
    ["kind", "outcome"],
    registry=REGISTRY,
)
JOBS = Counter(
    "wizard_jobs", "Jobs finished by workers, by kind and outcome.", ["kind", "outcome"],
    registry=REGISTRY,
)  # fmt: skip
QUEUE_LAG = Gauge(
    "wizard_queue_waiting", "Jobs in the stream not yet delivered to any worker.", registry=REGISTRY
)
QUEUE_PENDING = Gauge(
    "wizard_queue_pending", "Jobs delivered to a worker and not yet acked.", registry=REGISTRY
)
QUEUE_OLDEST = Gauge(
    "wizard_queue_oldest_pending_seconds",
    "Idle time of the oldest delivered-but-unacked job.",
    registry=REGISTRY,
)
REDIS_OOM = Counter(
    "wizard_redis_oom_total",
    "Writes refused because Redis reached maxmemory (noeviction), by where.",
    ["where"],
    registry=REGISTRY,
)
ANALYSIS_LAG = Gauge(
    "wizard_analysis_waiting", "Analyses in the stream not yet taken by any worker.",
    registry=REGISTRY,
)  # fmt: skip
ANALYSIS_PENDING = Gauge(
    "wizard_analysis_pending", "Analyses taken by a worker and not yet acked.", registry=REGISTRY
)
LLM_IN_FLIGHT = Gauge(
    "wizard_llm_in_flight", "Model calls holding a gate slot in this process.", registry=REGISTRY
)
LLM_WAITING = Gauge(
    "wizard_llm_waiting", "Analyses waiting for a model slot in this process.", registry=REGISTRY
)
LLM_PAUSED = Gauge(
    "wizard_llm_paused", "1 while the API's rate-limit headers pause new model calls.",
    registry=REGISTRY,
)  # fmt: skip
LLM_CALLS = Counter("wizard_llm_calls", "Model calls by outcome.", ["outcome"], registry=REGISTRY)
LLM_LATENCY = Histogram(
    "wizard_llm_latency_seconds",
    "Model call latency (successful calls).",
    buckets=(0.5, 1, 2, 4, 8, 15, 30, 60),
    registry=REGISTRY,
)
LLM_TOKENS = Counter("wizard_llm_tokens", "Tokens used, by type.", ["type"], registry=REGISTRY)
LLM_COST = Counter("wizard_llm_cost_usd", "Model spend in dollars.", registry=REGISTRY)
LLM_STOPS = Counter(
    "wizard_llm_stop_reasons", "Model responses by stop_reason.", ["reason"], registry=REGISTRY
)
LLM_UNPRICED = Counter(
    "wizard_llm_unpriced_calls", "Model calls whose model has no known price.", registry=REGISTRY
)
FALLBACKS = Counter(
    "wizard_fallbacks", "Runbook fallbacks posted instead of a model answer, by cause.", ["cause"],
    registry=REGISTRY,
)  # fmt: skip
REPLIES = Counter(
    "wizard_replies", "Messages written to Slack, by action.", ["action"], registry=REGISTRY
)
SLACK_ERRORS = Counter(
    "wizard_slack_api_errors", "Slack Web API errors seen by the bot, by error code.", ["error"],
    registry=REGISTRY,
)  # fmt: skip
SLACK_RATE_LIMITED = Counter(
    "wizard_slack_rate_limited", "Slack 429 answers (retried by the SDK).", registry=REGISTRY
)
FEEDBACK = Counter(
    "wizard_feedback",
    "Verdicts people gave on answers (helpful, not_helpful, wrong_runbook).",
    ["verdict"],
    registry=REGISTRY,
)
ALERTS_UNRECOGNISED = Counter(
    "wizard_alerts_unrecognised",
    "Integration posts in alert channels no parser knew, triaged by the generic parser.",
    registry=REGISTRY,
)


def exposition() -> bytes:
    """This process's metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)


class _Merged(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def merged(*texts: bytes) -> bytes:
    """One exposition from several processes' (the intake child's and its parent's): the same
    sample is summed — each counter and gauge is moved by one of the two processes, the other
    holds 0 — except `_created`, the earliest of the two."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text.decode()):
            families.setdefault(
                family.name, Metric(family.name, family.documentation, family.type, family.unit)
            )
            samples = values.setdefault(family.name, {})
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                old = samples.get(key)
                if old is None:
                    samples[key] = sample.value
                elif sample.name.endswith("_created"):
                    samples[key] = min(old, sample.value)
                else:
                    samples[key] = old + sample.value
    for name, family in families.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(list(families.values())))
    return generate_latest(registry)
