"""Which webhook bodies are the *same* Alertmanager notification, and which are repeats.

Alertmanager re-sends a group every `repeat_interval` while it keeps firing, byte for byte the
same body; each of those is a notification the incident must count (its count and "last seen"
move). It also retries a POST that timed out or failed, within the same flush: that is a
re-delivery of one notification and must count once. The two look identical on the wire, so they
are told apart by time: one notification's identity (`delivery_id`: the group key and each
alert's fingerprint, status, startsAt and endsAt) is remembered only for a short re-delivery
window (`WIZARD_HOOK_REDELIVERY_WINDOW_S`, well under any sane repeat interval).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_ALERTS = 1000


def delivery_id(payload: Any, body: bytes) -> str:
    """sha256 of the notification's identity; the exact body when it is not Alertmanager's."""
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list) or not all(
        isinstance(a, dict) and a.get("fingerprint") for a in alerts[:MAX_ALERTS]
    ):
        return hashlib.sha256(body).hexdigest()
    assert isinstance(payload, dict)
    identity = [
        str(payload.get("groupKey")),
        str(payload.get("status")),
        sorted(
            [str(a.get(k)) for k in ("fingerprint", "status", "startsAt", "endsAt")]
            for a in alerts[:MAX_ALERTS]
        ),
        len(alerts),
    ]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()
