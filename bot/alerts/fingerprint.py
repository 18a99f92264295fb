"""Stable alert fingerprints, so one alert keeps one identity across posts and states.

The same alert posted twice, or firing then resolved, must map to one fingerprint so state,
dedup and incident memory line up. Alertmanager's own fingerprint is used when the payload has
it; when a Slack post prints an Alertmanager alert's full label set we recompute that same value
(`alertmanager_fingerprint`), so the webhook and the Slack post of one alert agree. Otherwise we
hash source + name + the labels that identify *what* is alerting (instance, service, job…),
leaving out the ones that change between posts (values, timestamps, severity escalations).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

VOLATILE = frozenset(
    {
        "value",
        "values",
        "severity",
        "priority",
        "status",
        "state",
        "timestamp",
        "time",
        "starts_at",
        "ends_at",
        "summary",
        "description",
        "message",
        "urgency",
        "count",
        "pagerduty_state",
    }
)

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF  # Prometheus' label separator byte
_MASK = (1 << 64) - 1


def fingerprint_for(source: str, name: str, labels: Mapping[str, str]) -> str:
    """sha256(source, name, identifying labels, sorted) as 16 hex characters."""
    identity = sorted(
        (k.lower(), v) for k, v in labels.items() if k.lower() not in VOLATILE and k != "alertname"
    )
    material = "\x1f".join([source, name.strip().lower(), *(f"{k}={v}" for k, v in identity)])
    return hashlib.sha256(material.encode("utf-8", "replace")).hexdigest()[:16]


def alertmanager_fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' `LabelSet.Fingerprint()`: FNV-1a 64 over sorted name/value pairs, as %016x.

    Alertmanager reports exactly this as an alert's `fingerprint`; hashlib has no FNV, and the
    algorithm is a dozen lines, so it lives here rather than as a dependency.
    """
    digest = _FNV_OFFSET
    for key in sorted(labels):
        for part in (key, labels[key]):
            for byte in part.encode("utf-8", "replace"):
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
            digest = ((digest ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"
