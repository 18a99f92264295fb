"""The fallback for alert posts no source parser recognised: a best-effort alert from the text.

An unknown integration's post must still be triaged rather than dropped. The first line becomes
the name, severity and status come from keywords, URLs become the source link, and
`Host:`/`Service:`-style lines become labels. When such identifying lines exist they, not the
first line (which changes from PROBLEM to RECOVERY), are the fingerprint's identity.
"""

from __future__ import annotations

import re
from typing import Any

from bot.alerts.common import (
    MAX_DESCRIPTION,
    as_list,
    clean,
    make_alert,
    message_text,
    runbook_and_dashboard,
    sender,
    severity_in_text,
    unslack,
    urls_in,
)
from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert

# The state words, read for the *new* state: "from state OK to state CRITICAL" is a problem,
# "is UP" a recovery. A transition (`X -> Y`, `from X to Y`) wins; otherwise the first state word.
_RESOLVED_WORDS = r"resolved|recovered|recovery|cleared|back to normal|closed|ok|up|healthy|normal"
_FIRING_WORDS = (
    r"problem|firing|alert|alarm|critical|warning|down|failed|failing|triggered|unhealthy|"
    r"unreachable|error|degraded"
)
_STATE = re.compile(rf"\b({_RESOLVED_WORDS}|{_FIRING_WORDS})\b", re.IGNORECASE)
_TRANSITION = re.compile(
    r"(?:from (?:state )?\w+ to (?:state )?|\b\w+\s*(?:->|→|=>)\s*)(\w+)", re.IGNORECASE
)
_RESOLVED = re.compile(rf"^(?:{_RESOLVED_WORDS})$", re.IGNORECASE)
_MARKUP = re.compile(r"[*~`]")
_KEY_LINE = re.compile(r"^\s*(\w[\w ]{0,30}?)\s*:\s*(\S.{0,255})$")
IDENTIFYING = frozenset(
    {"host", "hostname", "service", "instance", "env", "environment", "cluster", "region", "app"}
)


def _identifying_labels(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines[:100]:
        match = _KEY_LINE.match(line) if len(line) <= 300 else None
        if match and match.group(1).lower() in IDENTIFYING:
            key = match.group(1).lower()
            found.setdefault(key, clean(match.group(2).split(" (")[0], 256))
    return found


def status_of(line: str) -> str:
    """ "firing" or "resolved" from a status line, reading the state it moved *to*."""
    moved = _TRANSITION.search(line)
    if moved:
        return "resolved" if _RESOLVED.match(moved.group(1)) else "firing"
    word = _STATE.search(line)
    return "resolved" if word and _RESOLVED.match(word.group(1)) else "firing"


def from_text(text: str, *, recognised: bool = True) -> Alert | None:
    text = unslack(clean(text, 100_000))
    lines = [_MARKUP.sub("", line).strip(" _#>") for line in text.splitlines()[:2000]]
    lines = [line for line in lines if line]
    if not lines:
        return None
    first = re.sub(r"https?://\S+", "", lines[0]).strip() or lines[0]
    lbls = _identifying_labels(lines[1:])
    urls = urls_in(text)
    level = severity_in_text(first)
    runbook, dashboard = runbook_and_dashboard(text)
    return make_alert(
        source="generic",
        status="resolved" if status_of(first) == "resolved" else "firing",
        name=first,
        severity_=level if level != "unknown" else severity_in_text(text),
        lbls=lbls,
        summary=first,
        description="\n".join(lines[1:])[:MAX_DESCRIPTION],
        fingerprint=fingerprint_for("generic", "", lbls) if lbls else None,
        runbook=runbook,
        dashboard=dashboard,
        source_url=urls[0] if urls else None,
        recognised=recognised,
    )


def _has_content(message: dict[str, Any]) -> bool:
    return any(
        isinstance(item, dict)
        for key in ("attachments", "blocks", "files")
        for item in as_list(message.get(key))[:20]
    )


def parse(message: dict[str, Any]) -> list[Alert] | None:
    """An integration's post no parser knows: triaged from its text, marked unrecognised."""
    alert = from_text(message_text(message), recognised=False)
    if alert is None and _has_content(message):  # only images or empty blocks: never silent
        who = sender(message) or clean(message.get("bot_id"), 50) or "an integration"
        alert = from_text(f"Alert post from {who}", recognised=False)
    return [alert] if alert else None
