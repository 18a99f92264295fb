"""The alert parsers against real and template-faithful fixtures, and against hostile input.

Each fixture's expected fields are written out here, not derived from the parser, so a change in
what a parser extracts shows up as a failing line. tests/fixtures/README.md says where each
fixture came from (the Alertmanager ones were captured from a running Alertmanager).
"""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.common import severity
from bot.alerts.registry import (
    is_from_integration,
    parse_alertmanager_webhook,
    parse_message,
    parse_payload,
)
from bot.models import Alert

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo" / "payloads"

AM_UI = "http://alertmanager.trading.internal:9093/#/alerts?receiver=trading-infra"
OGW_RUNBOOK = "https://runbooks.trading.internal/order-gateway/high-latency"
KAFKA_RUNBOOK = "https://runbooks.trading.internal/kafka/consumer-lag"
OGW_GROUP_KEY = '{}:{alertname="HighOrderLatency", service="order-gateway"}'
KAFKA_GROUP_KEY = '{}:{alertname="KafkaConsumerLagHigh", service="md-feed-handler"}'
PROM_OGW = (
    "http://prometheus.trading.internal:9090/graph?g0.expr=histogram_quantile%280.99%2C+rate"
    "%28order_ack_latency_seconds_bucket%5B1m%5D%29%29+%3E+0.001&g0.tab=1"
)
GRAFANA = "https://grafana.trading.internal"
DD_MONITOR = (
    "https://app.datadoghq.com/monitors/81234567?group=consumer_group%3Amd-normalizer%2Cenv%3A"
    "prod&from_ts="
)
PD_INCIDENT = "https://acme-trading.pagerduty.com/incidents/Q1FXSESS7UP2Z"
OG_ALERT = (
    "https://acme-trading.app.opsgenie.com/alert/detail/"
    "6f1c2e3a-9b8d-4c7e-a1f0-5e4d3c2b1a09-1795999500123"
)
SENTRY_ISSUE = "https://acme-trading.sentry.io/issues/4509871234/?referrer=slack"
CW_CONSOLE = "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ogw(status: str, fingerprint: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": "alertmanager",
        "status": status,
        "name": "HighOrderLatency",
        "severity": "critical",
        "service": "order-gateway",
        "environment": "prod",
        "fingerprint": fingerprint,
        "runbook": OGW_RUNBOOK,
        **extra,
    }


def kafka(status: str, fingerprint: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": "alertmanager",
        "status": status,
        "name": "KafkaConsumerLagHigh",
        "severity": "warning",
        "service": "md-feed-handler",
        "environment": "prod",
        "fingerprint": fingerprint,
        "runbook": KAFKA_RUNBOOK,
        **extra,
    }


WEBHOOK = {"group_key": OGW_GROUP_KEY, "truncated": 0, "source_link": PROM_OGW}
FP_OGW1, FP_OGW2 = "bebc061333b4d685", "6712b846df0b7a1a"
FP_K0, FP_K3, FP_K7 = "f9d8ef9eb8cf91fa", "f1e7ed6b201047f3", "932fb79b20e3081f"

# fixture → the alerts it must give, in order; keys are Alert fields, plus runbook/dashboard/
# source_link for `links`, and `ends_at_none` for "no end".
EXPECTED: dict[str, list[dict[str, Any]]] = {
    "alertmanager/webhook_firing_grouped.json": [
        ogw("firing", FP_OGW1, ends_at_none=True, **WEBHOOK),
        ogw("firing", FP_OGW2, ends_at_none=True, **WEBHOOK),
    ],
    "alertmanager/webhook_mixed_firing_resolved.json": [
        ogw(
            "firing",
            FP_OGW1,
            ends_at_none=True,
            dashboard=f"{GRAFANA}/d/ogw-latency/order-gateway-latency?var-instance=ogw-ny4-01",
            **WEBHOOK,
        ),
        ogw("resolved", FP_OGW2, ends_at_none=False, **WEBHOOK),
    ],
    "alertmanager/webhook_truncated.json": [
        kafka("firing", FP_K0, group_key=KAFKA_GROUP_KEY, truncated=1, ends_at_none=True),
        kafka("firing", FP_K3, group_key=KAFKA_GROUP_KEY, truncated=1, ends_at_none=True),
    ],
    "alertmanager/webhook_resolved.json": [
        {
            "source": "alertmanager",
            "status": "resolved",
            "name": "FixSessionDown",
            "severity": "critical",
            "service": "fix-engine",
            "environment": "prod",
            "fingerprint": "95830cdb294910ac",
            "summary": "FIX session NYSE-OUCH-01 is not logged on",
            "runbook": "https://runbooks.trading.internal/fix/session-down",
            "dashboard": None,
            "group_key": '{}:{alertname="FixSessionDown", service="fix-engine"}',
            "ends_at_none": False,
        }
    ],
    "alertmanager/slack_default_firing_envelope.json": [
        {
            "source": "alertmanager",
            "status": "firing",
            "name": "HighOrderLatency",
            "severity": "critical",
            "service": "order-gateway",
            "environment": "prod",
            "runbook": None,
            "source_link": AM_UI,
            "group_key": None,
            "ends_at_none": True,
        }
    ],
    "alertmanager/slack_default_fix_firing.json": [
        {
            "status": "firing",
            "name": "FixSessionDown",
            "severity": "critical",
            "service": "fix-engine",
            "environment": "prod",
        }
    ],
    "alertmanager/slack_default_fix_resolved.json": [
        {"status": "resolved", "name": "FixSessionDown", "service": "fix-engine"}
    ],
    # The custom text prints every label, so Alertmanager's own fingerprint is recomputed.
    "alertmanager/slack_custom_grouped_firing.json": [
        ogw("firing", FP_OGW1, source_link=AM_UI, summary="p99 order ack latency 4.2ms on "),
        ogw("firing", FP_OGW2, source_link=AM_UI),
    ],
    "alertmanager/slack_custom_kafka_firing.json": [
        kafka("firing", FP_K0),
        kafka("firing", FP_K3),
        kafka("firing", FP_K7),
    ],
    "alertmanager/slack_custom_kafka_resolved.json": [
        kafka("resolved", FP_K0),
        kafka("resolved", FP_K3),
        kafka("resolved", FP_K7),
    ],
    "grafana/firing.json": [
        {
            "source": "grafana",
            "status": "firing",
            "name": "PtpClockOffsetHigh",
            "severity": "critical",
            "service": "ptp",
            "environment": "prod",
            "summary": "PTP offset 2.1µs on mdh-ny4-05",
            "runbook": "https://runbooks.trading.internal/ptp/clock-offset",
            "dashboard": f"{GRAFANA}/d/ptp-sync?orgId=1",
            "source_link": f"{GRAFANA}/alerting/grafana/ptp-offset-01/view?orgId=1",
        }
    ],
    "grafana/resolved.json": [
        {"source": "grafana", "status": "resolved", "name": "PtpClockOffsetHigh", "service": "ptp"}
    ],
    "grafana/mixed.json": [
        {
            "source": "grafana",
            "status": "firing",
            "name": "MarketDataSequenceGap",
            "severity": "warning",
            "service": "md-feed-handler",
            "environment": "prod",
            "summary": "Sequence gaps on XNAS-ITCH A-feed",
        },
        {"source": "grafana", "status": "resolved", "summary": "Sequence gaps on ARCA-XDP A-feed"},
    ],
    "datadog/triggered_p1.json": [
        {
            "source": "datadog",
            "status": "firing",
            "name": "Kafka consumer lag high on consumer_group:md-normalizer,env:prod",
            "severity": "critical",
            "service": "md-feed-handler",
            "environment": "prod",
            "runbook": KAFKA_RUNBOOK,
            "dashboard": "https://app.datadoghq.com/dashboard/abc-123-xyz/kafka-consumers",
            "source_link": DD_MONITOR,
        }
    ],
    "datadog/recovered.json": [
        {
            "source": "datadog",
            "status": "resolved",
            "name": "Kafka consumer lag high on consumer_group:md-normalizer,env:prod",
            "severity": "critical",
            "service": "md-feed-handler",
        }
    ],
    "datadog/warn.json": [
        {
            "source": "datadog",
            "status": "firing",
            "name": "FIX gateway CPU high on host:fix-ld4-03",
            "severity": "warning",
            "service": "fix-engine",
            "environment": "prod",
        }
    ],
    "pagerduty/triggered.json": [
        {
            "source": "pagerduty",
            "status": "firing",
            "name": "FIX session NYSE-OUCH-01 down",
            "severity": "critical",
            "service": "fix-engine-prod",
            "source_link": PD_INCIDENT,
        }
    ],
    "pagerduty/acknowledged.json": [
        {"source": "pagerduty", "status": "firing", "name": "FIX session NYSE-OUCH-01 down"}
    ],
    "pagerduty/resolved.json": [
        {"source": "pagerduty", "status": "resolved", "service": "fix-engine-prod"}
    ],
    "opsgenie/created.json": [
        {
            "source": "opsgenie",
            "status": "firing",
            "name": "Market data feed handler md-ld4-02 dropped multicast A-feed",
            "severity": "high",
            "service": "md-feed-handler",
            "environment": "prod",
            "source_link": OG_ALERT,
        }
    ],
    "opsgenie/closed.json": [{"source": "opsgenie", "status": "resolved", "severity": "high"}],
    "sentry/issue_alert.json": [
        {
            "source": "sentry",
            "status": "firing",
            "name": "FixSessionError: Logon rejected by counterparty: MsgSeqNum too low",
            "severity": "high",
            "service": "fix-engine",
            "environment": "prod",
            "source_link": SENTRY_ISSUE,
        }
    ],
    "sentry/resolved.json": [{"source": "sentry", "status": "resolved", "service": "fix-engine"}],
    "cloudwatch/chatbot_alarm.json": [
        {
            "source": "cloudwatch",
            "status": "firing",
            "name": "ogw-nlb-unhealthy-hosts",
            "severity": "high",
            "summary": "Order gateway NLB target group has unhealthy FIX acceptors",
            "source_link": CW_CONSOLE + "ogw-nlb-unhealthy-hosts",
        }
    ],
    "cloudwatch/chatbot_ok.json": [
        {"source": "cloudwatch", "status": "resolved", "name": "ogw-nlb-unhealthy-hosts"}
    ],
    "cloudwatch/sns_notification.json": [
        {
            "source": "cloudwatch",
            "status": "firing",
            "name": "md-kafka-broker-disk-used-high",
            "severity": "high",
            "environment": None,
            "summary": "Kafka broker data volume for market data above 85%",
            "source_link": CW_CONSOLE + "md-kafka-broker-disk-used-high",
            "ends_at_none": True,
        }
    ],
    "cloudwatch/sns_json_in_text_ok.json": [
        {"source": "cloudwatch", "status": "resolved", "name": "md-kafka-broker-disk-used-high"}
    ],
    "generic/bot_unknown_critical.json": [
        {
            "source": "generic",
            "status": "firing",
            "name": "PROBLEM CRITICAL: ptp4l sync on mdh-ld4-02 is lost",
            "severity": "critical",
            "service": "ptp4l-sync",
            "source_link": "https://icinga.trading.internal/icingaweb2/monitoring/service/show",
        }
    ],
    "generic/bot_unknown_recovery.json": [
        {"source": "generic", "status": "resolved", "service": "ptp4l-sync"}
    ],
    "generic/json_object_with_text.json": [
        {
            "source": "generic",
            "status": "firing",
            "name": "SEV2 risk-engine position snapshot stale",
            "severity": "high",
        }
    ],
}

# Pairs that are one alert seen twice (firing then resolved, or two channels): one fingerprint.
SAME_ALERT = [
    ("alertmanager/slack_default_fix_firing.json", "alertmanager/slack_default_fix_resolved.json"),
    (
        "alertmanager/slack_custom_kafka_firing.json",
        "alertmanager/slack_custom_kafka_resolved.json",
    ),
    ("alertmanager/slack_custom_grouped_firing.json", "alertmanager/webhook_firing_grouped.json"),
    ("alertmanager/slack_custom_kafka_firing.json", "alertmanager/webhook_truncated.json"),
    ("grafana/firing.json", "grafana/resolved.json"),
    ("datadog/triggered_p1.json", "datadog/recovered.json"),
    ("pagerduty/triggered.json", "pagerduty/acknowledged.json"),
    ("pagerduty/triggered.json", "pagerduty/resolved.json"),
    ("opsgenie/created.json", "opsgenie/closed.json"),
    ("sentry/issue_alert.json", "sentry/resolved.json"),
    ("cloudwatch/chatbot_alarm.json", "cloudwatch/chatbot_ok.json"),
    ("cloudwatch/sns_notification.json", "cloudwatch/sns_json_in_text_ok.json"),
    ("generic/bot_unknown_critical.json", "generic/bot_unknown_recovery.json"),
]

NOT_ALERTS = sorted(p.name for p in (FIXTURES / "not_alerts").glob("*.json"))


def check(alert: Alert, expected: dict[str, Any]) -> None:
    for key, want in expected.items():
        if key == "runbook":
            assert alert.links.runbook == want
        elif key == "dashboard":
            assert alert.links.dashboard == want
        elif key == "source_link":
            assert (alert.links.source or "").startswith(want), alert.links.source
        elif key == "ends_at_none":
            assert (alert.ends_at is None) is want
        elif key == "summary":
            assert alert.summary.startswith(want), alert.summary
        else:
            assert getattr(alert, key) == want, (key, getattr(alert, key))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str) -> None:
    alerts = parse_payload(load(name))
    assert len(alerts) == len(EXPECTED[name])
    for alert, expected in zip(alerts, EXPECTED[name], strict=True):
        check(alert, expected)
        assert alert.fingerprint == parse_payload(load(name))[alerts.index(alert)].fingerprint
        assert all(t.tzinfo is not None for t in (alert.starts_at, alert.ends_at) if t)


def test_every_source_fixture_is_covered() -> None:
    """Each fixture is checked field by field here or fact by fact in facts.json (tests/alerts/
    test_facts.py and bench/parse_accuracy.py), and every tool has at least two."""
    on_disk = {
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.glob("*/*.json")
        if p.parent.name != "not_alerts"
    }
    facts = json.loads((FIXTURES / "facts.json").read_text(encoding="utf-8"))
    assert on_disk == set(EXPECTED) | set(facts)
    sources = {p.split("/")[0] for p in on_disk}
    assert all(sum(p.startswith(s + "/") for p in on_disk) >= 2 for s in sources)


@pytest.mark.parametrize(("first", "second"), SAME_ALERT)
def test_same_alert_same_fingerprint(first: str, second: str) -> None:
    a, b = parse_payload(load(first)), parse_payload(load(second))
    assert a and b
    assert {x.fingerprint for x in b} <= {x.fingerprint for x in a}


def test_distinct_alerts_distinct_fingerprints() -> None:
    seen: dict[str, str] = {}
    for name in EXPECTED:
        for alert in parse_payload(load(name)):
            key = f"{alert.source}:{alert.name}:{sorted(alert.labels.items())}"
            if alert.source == "alertmanager" and not alert.labels:
                continue  # the default Slack template's group alert stands for several
            seen.setdefault(alert.fingerprint, key)
    fingerprints = [a.fingerprint for n in EXPECTED for a in parse_payload(load(n))]
    assert len(set(fingerprints)) >= 20
    assert all(len(fp) >= 16 for fp in fingerprints)


def test_webhook_times_are_aware_and_no_end_is_none() -> None:
    firing, resolved = parse_payload(load("alertmanager/webhook_mixed_firing_resolved.json"))
    assert firing.starts_at is not None and firing.starts_at.tzinfo is not None
    assert firing.ends_at is None  # 0001-01-01T00:00:00Z
    assert resolved.ends_at is not None and resolved.ends_at > resolved.starts_at


def test_envelope_and_bare_event_agree() -> None:
    envelope = load("alertmanager/slack_default_firing_envelope.json")
    assert parse_payload(envelope) == parse_message(envelope["event"])


def test_alertmanager_webhook_entry_point() -> None:
    body = load("alertmanager/webhook_truncated.json")
    alerts = parse_alertmanager_webhook(body)
    assert [a.truncated for a in alerts] == [1, 1]
    assert alerts[0].labels["partition"] == "0"
    assert alerts[0].description.startswith("kafka_consumergroup_lag > 50000")
    assert parse_alertmanager_webhook([body]) == []  # type: ignore[arg-type]
    assert parse_alertmanager_webhook({"alerts": "nope"}) == []


def test_common_annotations_fill_gaps() -> None:
    body = load("alertmanager/webhook_resolved.json")
    body["alerts"][0]["annotations"].pop("runbook_url")
    body["commonAnnotations"] = {"runbook_url": "https://runbooks.trading.internal/fix/common"}
    (alert,) = parse_payload(body)
    assert alert.links.runbook == "https://runbooks.trading.internal/fix/common"


@pytest.mark.parametrize("name", NOT_ALERTS)
def test_not_alerts(name: str) -> None:
    payload = load(f"not_alerts/{name}")
    assert parse_payload(payload) == []
    event = payload.get("event", payload)
    assert parse_message(event) == []


def test_person_needs_exact_format_but_integration_does_not() -> None:
    pasted = load("not_alerts/person_pastes_pagerduty_link.json")
    assert parse_payload(pasted) == []
    as_bot = {**pasted, "bot_id": "B07PAGERDTY"}
    (alert,) = parse_payload(as_bot)
    assert alert.source in ("datadog", "pagerduty")
    # A person forwarding an Alertmanager post keeps its exact format: that is an alert.
    forwarded = load("alertmanager/slack_default_fix_firing.json")
    for key in ("bot_id", "subtype", "username"):
        forwarded.pop(key)
    forwarded["user"] = "U07JDOE001"
    assert [a.name for a in parse_payload(forwarded)] == ["FixSessionDown"]


def test_unknown_bot_post_is_generic_and_person_chat_is_not() -> None:
    bot = {"type": "message", "bot_id": "B1", "text": "Disk 91% on kafka-ld4-01 (warning)"}
    (alert,) = parse_payload(bot)
    assert (alert.source, alert.severity, alert.status) == ("generic", "warning", "firing")
    assert parse_payload({**bot, "bot_id": None, "user": "U1"}) == []
    assert parse_payload({"type": "message", "subtype": "bot_message", "text": ""}) == []


def test_unknown_json_bodies() -> None:
    events_v2 = {
        "routing_key": "R0UT1NGKEY",
        "event_action": "trigger",
        "payload": {"summary": "P1 order-gateway rejects spiking", "severity": "critical"},
    }
    (alert,) = parse_payload(events_v2)
    assert (alert.source, alert.name, alert.severity) == (
        "generic",
        "P1 order-gateway rejects spiking",
        "critical",
    )
    assert parse_payload({"payload": '{"type": "block_actions"}'}) == []
    assert parse_payload({"service": "order-gateway", "version": "4.2.0"}) == []


def test_text_only_alertmanager_title() -> None:
    message = {
        "type": "message",
        "subtype": "bot_message",
        "text": "[RESOLVED] HighLatency (order-gateway prod)\nall good",
    }
    (alert,) = parse_payload(message)
    assert (alert.source, alert.status, alert.name) == ("alertmanager", "resolved", "HighLatency")
    assert (alert.service, alert.environment) == ("order-gateway", "prod")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"bot_id": "B1"}, True),
        ({"subtype": "bot_message"}, True),
        ({"app_id": "A1"}, True),
        ({"bot_profile": {"name": "Datadog"}}, True),
        ({"user": "U1", "text": "hi"}, False),
        ({"bot_id": ""}, False),
        ("not a dict", False),
    ],
)
def test_is_from_integration(message: Any, expected: bool) -> None:
    assert is_from_integration(message) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("P1", "critical"),
        ("SEV1", "critical"),
        ("critical", "critical"),
        ("page", "critical"),
        ("fatal", "critical"),
        ("P2", "high"),
        ("high", "high"),
        ("error", "high"),
        ("warning", "warning"),
        ("P3", "warning"),
        ("info", "info"),
        ("P4", "info"),
        ("P5", "info"),
        ("bogus", "unknown"),
        (None, "unknown"),
        (["P1"], "unknown"),
    ],
)
def test_severity_mapping(raw: Any, expected: str) -> None:
    assert severity(raw) == expected


def test_demo_payloads_parse() -> None:
    for path in sorted(DEMO.glob("*.json")):
        alerts = parse_payload(json.loads(path.read_text(encoding="utf-8")))
        assert bool(alerts) is ("deploy" not in path.name), path.name


# --- robustness ----------------------------------------------------------------------------

MAX_BOUNDS = {"name": 200, "summary": 500, "description": 4000}


def assert_bounded(alerts: list[Alert]) -> None:
    assert isinstance(alerts, list)
    for alert in alerts:
        for field, limit in MAX_BOUNDS.items():
            value = getattr(alert, field)
            assert len(value) <= limit, field
            assert not any(ord(c) < 32 and c not in "\n\t" for c in value), field
        assert len(alert.labels) <= 64
        assert all(len(k) <= 256 and len(v) <= 256 for k, v in alert.labels.items())


def _garbage(rng: random.Random, depth: int = 0) -> Any:
    atoms: list[Any] = [
        None,
        True,
        -1,
        10**30,
        1.5e308,
        float("nan"),
        "",
        "\x00\x1b[31m\x7f",
        "[FIRING:x]",
        "https://x.pagerduty.com/incidents/",
        "0001-01-01T00:00:00Z",
        "*Alert:* `",
        " - a = b\n" * 3,
    ]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(atoms)
    if rng.random() < 0.5:
        return [_garbage(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [
        "type",
        "event",
        "text",
        "attachments",
        "blocks",
        "alerts",
        "labels",
        "title",
        "subtype",
        "bot_id",
        "fields",
        "status",
        "Message",
        "AlarmName",
        "version",
        "x",
    ]
    return {rng.choice(keys): _garbage(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def _scramble(value: Any, rng: random.Random) -> Any:
    """A fixture with some values swapped for wrong types and hostile strings."""
    if isinstance(value, dict):
        return {k: _scramble(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_scramble(v, rng) for v in value]
    if rng.random() < 0.15:
        return _garbage(rng, 3)
    if isinstance(value, str) and rng.random() < 0.1:
        return value + "\x00\x07" + "é" * 300
    return value


def test_random_garbage_never_raises() -> None:
    rng = random.Random(20261129)
    for _ in range(400):
        value = _garbage(rng)
        assert_bounded(parse_payload(value))
        if isinstance(value, dict):
            assert_bounded(parse_message(value))
            assert_bounded(parse_alertmanager_webhook(value))


def test_scrambled_fixtures_never_raise() -> None:
    rng = random.Random(7)
    names = sorted(EXPECTED)
    for i in range(120):
        payload = _scramble(copy.deepcopy(load(names[i % len(names)])), rng)
        assert_bounded(parse_payload(payload))


@pytest.mark.parametrize(
    "value",
    [None, 0, "", "text", [], [{"type": "message"}], 3.5, {"type": None}, {"event": []}],
)
def test_wrong_top_level_types(value: Any) -> None:
    assert parse_payload(value) == [] or all(isinstance(a, Alert) for a in parse_payload(value))
    assert parse_message(value) == []  # type: ignore[arg-type]


def test_deeply_nested_input() -> None:
    nested: Any = "x"
    for _ in range(20_000):
        nested = {"event": nested, "attachments": [nested], "blocks": [{"elements": nested}]}
    assert_bounded(parse_payload(nested))
    chain: Any = []
    for _ in range(20_000):
        chain = [chain]
    assert parse_payload({"type": "message", "bot_id": "B", "blocks": chain, "text": chain}) == []


def test_huge_and_hostile_strings_are_fast_and_bounded() -> None:
    megabyte = 1_000_000
    hostile = [
        "a" * megabyte,
        "[FIRING:1] " + "x " * (megabyte // 2),
        "*Alert:* " + "`" * megabyte,
        " • *k:* `" + " " * megabyte + "x",
        "#1 " + "a>" * (megabyte // 2),
        "https://app.datadoghq.com/monitors/1 Triggered: " + "k:v " * (megabyte // 4),
        "CloudWatch Alarm | " + "|" * megabyte,
        '{"AlarmName": "' + "[" * megabyte,
        "\x00" * megabyte,
    ]
    started = time.perf_counter()
    for text in hostile:
        for message in (
            {"type": "message", "bot_id": "B", "text": text},
            {"type": "message", "bot_id": "B", "attachments": [{"title": text, "text": text}]},
        ):
            alerts = parse_payload(message)
            assert_bounded(alerts)
    assert time.perf_counter() - started < 5


def test_label_bounds_on_webhook() -> None:
    body = load("alertmanager/webhook_resolved.json")
    body["alerts"][0]["labels"] = {f"k{i}" * 100: "v\x00" * 1000 for i in range(500)}
    body["alerts"][0]["annotations"] = {"summary": "s" * 10_000, "description": "d" * 10_000}
    (alert,) = parse_payload(body)
    assert_bounded([alert])
    assert len(alert.summary) == 500 and len(alert.description) == 4000
