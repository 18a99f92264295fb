"""Fact accuracy on the 14 tools' messages, plus the behaviours around them.

`tests/fixtures/facts.json` says, per fixture, what a person reading the message would write
down; bench/parse_accuracy.py prints the overall figure. Here every listed fact must be right and
none invented, fixture by fixture, so a regression names the fixture and the fact.
"""

from __future__ import annotations

import html
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.announcements import announcement
from bot.alerts.generic import status_of
from bot.alerts.registry import edited_message, parse_message, parse_payload

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
FACTS: dict[str, Any] = json.loads((FIXTURES / "facts.json").read_text(encoding="utf-8"))
_spec = importlib.util.spec_from_file_location(
    "parse_accuracy", ROOT / "bench" / "parse_accuracy.py"
)
assert _spec and _spec.loader
scoring = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scoring)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_fourteen_tools_besides_alertmanager() -> None:
    tools = {entry["tool"] for entry in FACTS.values()} - {"alertmanager"}
    assert len(tools) == 14, sorted(tools)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_every_fact_right_none_invented(name: str) -> None:
    payload = load(name)
    text = html.unescape(" \n".join(scoring._strings(payload))).lower()
    alerts = parse_payload(payload)
    expected = FACTS[name]["alerts"]
    assert len(alerts) == len(expected)
    for want, got in zip(expected, alerts, strict=True):
        scored, right, invented, notes = scoring.score_alert(want, got, text)
        assert (right, invented) == (scored, 0), notes


def test_bench_prints_the_figure_and_scores_a_baseline_side_by_side(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "parse_accuracy.py"), "--quiet"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(out.stdout)["this"]
    assert result["percent_right"] >= 95 and result["invented"] == 0 and result["crashes"] == 0
    assert result["facts"] > 300 and result["tools"] == 15


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("Service ptp4l changed from state OK to state CRITICAL", "firing"),
        ("Service ptp4l changed from state CRITICAL to state OK", "resolved"),
        ("disk: WARNING -> OK", "resolved"),
        ("fix-gw-ld4-01 is UP", "resolved"),
        ("fix-gw-ld4-01 is DOWN", "firing"),
        ("[md-feed] Up", "resolved"),
        ("PROBLEM: risk snapshot stale", "firing"),
        ("RECOVERY: risk snapshot fresh", "resolved"),
        ("Order gateway latency", "firing"),
    ],
)
def test_generic_status_reads_the_new_state(line: str, status: str) -> None:
    assert status_of(line) == status
    (alert,) = parse_payload({"type": "message", "bot_id": "B1", "text": line})
    assert alert.status == status


def test_unknown_integration_post_is_triaged_and_marked_unrecognised() -> None:
    (alert,) = parse_payload({"type": "message", "bot_id": "B9", "text": "nightly ETL stalled"})
    assert alert.source == "generic" and alert.recognised is False
    (image_only,) = parse_payload(
        {"type": "message", "bot_id": "B9", "username": "chart-bot", "files": [{"id": "F1"}]}
    )
    assert image_only.recognised is False and "chart-bot" in image_only.name
    (known,) = parse_payload(load("zabbix/problem.json"))
    assert known.recognised is True
    assert parse_payload({"type": "message", "user": "U1", "text": "nightly ETL stalled"}) == []


def test_argo_cd_announcement_is_not_an_alert_and_carries_the_deploy() -> None:
    message = load("not_alerts/argocd_deployed.json")
    assert parse_payload(message) == []
    found = announcement(message)
    assert found is not None and found.deploy is not None
    assert (found.deploy.service, found.deploy.version) == (
        "order-gateway",
        "9f3c2a1b7e4d5c6f8a9b0c1d2e3f4a5b6c7d8e9f",
    )
    # an alert that merely mentions a deployment stays an alert
    degraded = {
        "type": "message",
        "bot_id": "B1",
        "text": "Deployment order-gateway has 0 replicas",
    }
    assert announcement(degraded) is None and parse_payload(degraded)


def test_zabbix_recovery_arrives_as_an_edit() -> None:
    event = load("zabbix/resolved_edit.json")
    inner = edited_message(event)
    assert inner is not None and inner["channel"] == event["channel"]
    assert inner["ts"] == load("zabbix/problem.json")["ts"]
    (before,) = parse_payload(load("zabbix/problem.json"))
    (after,) = parse_message(event)
    assert (before.status, after.status) == ("firing", "resolved")
    assert before.fingerprint == after.fingerprint


def test_sentry_escalation_broadcast_is_the_same_alert_worse() -> None:
    (warning,) = parse_payload(load("sentry/metric_warning.json"))
    (critical,) = parse_payload(load("sentry/metric_escalation_broadcast.json"))
    (resolved,) = parse_payload(load("sentry/metric_resolved.json"))
    assert warning.fingerprint == critical.fingerprint == resolved.fingerprint
    assert (warning.severity, critical.severity, resolved.status) == (
        "warning",
        "critical",
        "resolved",
    )


def test_default_template_firing_n_counts_n() -> None:
    post = load("alertmanager/slack_default_fix_firing.json")
    post["attachments"][0]["title"] = post["attachments"][0]["title"].replace(
        "[FIRING:1]", "[FIRING:3]"
    )
    (alert,) = parse_payload(post)
    assert alert.count == 3
    webhook_alert, *_ = parse_payload(load("alertmanager/webhook_firing_grouped.json"))
    assert webhook_alert.count == 1


def test_grafana_webhook_keeps_its_links() -> None:
    (alert,) = parse_payload(load("grafana/webhook_firing.json"))
    assert alert.source == "grafana"
    assert alert.links.panel == "https://grafana.trading.internal/d/ogw-rejects?orgId=1&viewPanel=4"
    assert alert.links.silence and alert.links.silence.startswith(
        "https://grafana.trading.internal/alerting/silence/new?"
    )


def test_slack_entities_are_decoded_in_links() -> None:
    (alert,) = parse_payload(load("icinga2/service_critical.json"))
    assert alert.links.source and "&amp;" not in alert.links.source
    assert alert.links.source.endswith("host=mdh-ld4-02&service=ptp4l-sync")
