"""Fingerprints: Alertmanager's own algorithm reproduced, and the sha256 fallback stable."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.alerts.fingerprint import alertmanager_fingerprint, fingerprint_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_matches_alertmanager_for_every_captured_alert() -> None:
    count = 0
    for path in sorted((FIXTURES / "alertmanager").glob("webhook_*.json")):
        for alert in json.loads(path.read_text(encoding="utf-8"))["alerts"]:
            assert alertmanager_fingerprint(alert["labels"]) == alert["fingerprint"]
            count += 1
    assert count >= 5


def test_fallback_is_hex_and_stable() -> None:
    labels = {"instance": "ogw-ny4-01:9100", "service": "order-gateway", "env": "prod"}
    first = fingerprint_for("generic", "HighOrderLatency", labels)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert fingerprint_for("generic", "HighOrderLatency", dict(reversed(labels.items()))) == first
    assert fingerprint_for("generic", " highorderlatency ", labels) == first


def test_volatile_labels_are_ignored() -> None:
    base = {"instance": "fix-ld4-03:9200"}
    noisy = {**base, "severity": "critical", "value": "4.2", "status": "firing"}
    assert fingerprint_for("datadog", "x", noisy) == fingerprint_for("datadog", "x", base)


def test_identity_changes_change_the_fingerprint() -> None:
    base = fingerprint_for("grafana", "PtpClockOffsetHigh", {"host": "mdh-ny4-05"})
    assert fingerprint_for("grafana", "PtpClockOffsetHigh", {"host": "mdh-ny4-06"}) != base
    assert fingerprint_for("grafana", "PtpClockDrift", {"host": "mdh-ny4-05"}) != base
    assert fingerprint_for("datadog", "PtpClockOffsetHigh", {"host": "mdh-ny4-05"}) != base
