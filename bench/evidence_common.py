"""Shared by the evidence benches: an Alertmanager webhook for one rule, and JSON output."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote


def am_webhook(name: str, rule: str, *, summary: str, fingerprint: str) -> dict[str, Any]:
    """A v4 webhook body: one critical order-gateway alert whose generatorURL carries `rule`
    and points at a decoy host the bot must never contact."""
    labels = {"alertname": name, "service": "order-gateway", "severity": "critical"}
    return {
        "receiver": "wizard",
        "status": "firing",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.decoy.invalid:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": summary},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus.decoy.invalid:9090/graph?g0.expr={quote(rule)}",
                "fingerprint": fingerprint,
            }
        ],
    }


def emit(result: dict[str, Any], out: Path | None) -> int:
    """Print the figures as JSON (and write them to `out`)."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    sys.stdout.write(text + "\n")
    if out:
        out.write_text(text + "\n")
    return 0
