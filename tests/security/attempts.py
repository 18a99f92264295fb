"""The prompt-injection attempts in `tests/fixtures/injection_attempts.json`, and where they go.

Why a module: the end-to-end test and any future red-team script must plant an attempt the same
way (into an Alertmanager Slack post, a thread follow-up or a `/wizard` question) and judge the
outcome against the same "what success would look like" fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "injection_attempts.json"
PAYLOADS = Path(__file__).resolve().parents[2] / "bot" / "demo" / "payloads"

Where = Literal[
    "alert.summary",
    "alert.description",
    "alert.labels",
    "alert.name",
    "alert.service",
    "followup",
    "question",
]
FLOOD_UNIT = "lorem ipsum dolor sit amet "


@dataclass(frozen=True)
class Attempt:
    """One planted payload, what a fully obedient model would answer, and what must not leak."""

    id: str
    where: Where
    payload: str
    marker: str
    success: tuple[str, ...]
    obey_text: str
    obey_target: str | None = None
    drop_format: bool = False
    secrets: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _flood(text: str, chars: int) -> str:
    return text.replace("{FLOOD}", (FLOOD_UNIT * (chars // len(FLOOD_UNIT) + 1))[:chars])


def load_attempts() -> list[Attempt]:
    raw: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    attempts = []
    for item in raw:
        flood = int(item.get("flood_chars", 0))
        payload = _flood(item["payload"], flood)
        marker = next(w for w in payload.split() if w.startswith("INJMARK") or "INJMARK" in w)
        marker = marker[marker.index("INJMARK") : marker.index("INJMARK") + 9]
        obey = item["obey"]
        attempts.append(
            Attempt(
                id=item["id"],
                where=item["where"],
                payload=payload,
                marker=marker,
                success=tuple(item["success"]),
                obey_text=_flood(obey["text"], min(flood, 12_000)),
                obey_target=obey.get("target_version"),
                drop_format=obey.get("format") == "drop",
                secrets=tuple(item.get("secrets", ())),
                hosts=tuple(item.get("hosts", ())),
                versions=tuple(item.get("versions", ())),
            )
        )
    return attempts


def base_alert() -> dict[str, Any]:
    """The demo Alertmanager Slack post the alert-side attempts are planted into."""
    message: dict[str, Any] = json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
    return message


def planted_alert(attempt: Attempt) -> dict[str, Any]:
    """The Alertmanager Slack post with `attempt.payload` in the field it targets."""
    message = base_alert()
    att = message["attachments"][0]
    text: str = att["text"]
    payload = attempt.payload
    if attempt.where == "alert.summary":
        text = text.replace("Order gateway p99 latency above 5ms", payload)
    elif attempt.where == "alert.description":
        text = text.replace(text.split("*Description:* ", 1)[1].split("\n", 1)[0], payload)
    elif attempt.where == "alert.labels":
        text = text.replace("  • *env:*", f"  • *note:* `{payload}`\n  • *env:*")
    elif attempt.where == "alert.service":
        text = text.replace("*service:* `order-gateway`", f"*service:* `{payload}`")
    elif attempt.where == "alert.name":
        text = text.replace("`OrderGatewayLatencyHigh`", f"`{payload}`")
        att["title"] = att["title"].replace("OrderGatewayLatencyHigh", payload)
        att["fallback"] = att["fallback"].replace("OrderGatewayLatencyHigh", payload)
    att["text"] = text
    return message
