"""Shared, pure helpers for the per-source parsers: bounding, dates, severities, labels, text.

Alert payloads are attacker-reachable and tool-specific; every value is coerced and bounded here
so each parser can stay a short description of its source's format.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.alerts.fingerprint import fingerprint_for
from bot.models import Alert, AlertLinks, AlertSource, AlertStatus, Severity

MAX_NAME = 200
MAX_SUMMARY = 500
MAX_DESCRIPTION = 4000
MAX_LABELS = 64
MAX_LABEL_CHARS = 256
MAX_TEXT = 200_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL = re.compile(r"https?://[^\s<>|\"')]+")
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")

# `[FIRING:2] …`, `[RESOLVED] …`, and Grafana's `[FIRING:1, RESOLVED:1] …` group titles.
GROUP_TITLE = re.compile(
    r"^\s*\[(FIRING|RESOLVED)(?::\d+)?(?:,\s*RESOLVED:\d+)?\]\s*(.*)$", re.IGNORECASE | re.DOTALL
)
ENV_WORDS = ("prod", "production", "prd", "staging", "stage", "uat", "qa", "dev", "test", "dr")

SERVICE_KEYS = ("service", "app", "application", "component", "job", "service_name", "container")
ENV_KEYS = ("env", "environment", "stage", "cluster", "namespace")

_SEVERITY_WORDS: tuple[tuple[Severity, tuple[str, ...]], ...] = (
    ("critical", ("critical", "crit", "p1", "sev1", "sev-1", "page", "fatal", "emergency", "p0")),
    ("high", ("high", "p2", "sev2", "sev-2", "error", "major")),
    ("warning", ("warning", "warn", "p3", "sev3", "sev-3", "minor", "medium")),
    ("info", ("info", "informational", "p4", "p5", "sev4", "sev5", "low", "notice", "debug")),
)


def clean(value: Any, limit: int) -> str:
    """A scalar → a string without control characters (keeps \\n, \\t), cut to `limit`.

    Containers and other objects give "": stringifying attacker-sized structures is slow and
    can recurse without bound, and no field we read is meant to be one.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        return ""
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an int past Python's str() digit limit
        return ""
    text = _CONTROL.sub("", text[: limit * 2]).strip()
    return text[:limit]


def severity(value: Any) -> Severity:
    """Map the many spellings of severity/priority onto our five levels."""
    text = clean(value, 64).lower().strip("[]() ")
    for level, words in _SEVERITY_WORDS:
        if text in words:
            return level
    return "unknown"


def severity_in_text(text: str) -> Severity:
    """Best-effort severity from free text (`[P1]`, `SEV2`, `critical`)."""
    for token in re.findall(r"[A-Za-z]+-?\d?", text.lower()[:2000]):
        level = severity(token)
        if level != "unknown":
            return level
    return "unknown"


def timestamp(value: Any) -> datetime | None:
    """ISO-8601 / epoch seconds / epoch millis → aware UTC datetime; Go's zero time → None."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        text = clean(value, 64)
        if text.startswith("0001-01-01"):
            return None
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return timestamp(float(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def labels(value: Any, value_limit: int = MAX_LABEL_CHARS) -> dict[str, str]:
    """A bounded str→str map (labels; annotations with a larger `value_limit`)."""
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, str] = {}
    for key, val in list(value.items())[: MAX_LABELS * 2]:
        k = clean(key, MAX_LABEL_CHARS)
        if k and not isinstance(val, Mapping | list) and len(out) < MAX_LABELS:
            out[k] = clean(val, value_limit)
    return out


def first_label(lbls: Mapping[str, str], keys: Iterable[str]) -> str | None:
    for key in keys:
        if lbls.get(key):
            return lbls[key]
    return None


def url(value: Any) -> str | None:
    """A http(s) URL or None. Slack escapes `&` as `&amp;` inside message text, links included;
    decoded here so a link we re-post opens the page it names."""
    text = html.unescape(clean(value, 2000))
    return text if _URL.fullmatch(text) else None


def urls_in(text: str) -> list[str]:
    return _URL.findall(text)


def unslack(text: str) -> str:
    """`<http://x|label>` → `label (http://x)`; `<http://x>` → `http://x`."""
    return _SLACK_LINK.sub(
        lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text
    )


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def block_texts(blocks: Any, depth: int = 0) -> list[str]:
    """All text inside Block Kit blocks (sections, fields, context, rich text), bounded depth."""
    out: list[str] = []
    if depth > 6:
        return out
    for block in as_list(blocks)[:100]:
        if isinstance(block, str):
            out.append(block)
            continue
        block = as_dict(block)
        text = block.get("text")
        if isinstance(text, str):
            out.append(text)
        elif isinstance(text, dict) and isinstance(text.get("text"), str):
            out.append(text["text"])
        for key in ("fields", "elements"):
            out += block_texts(block.get(key), depth + 1)
    return out


def message_text(message: Mapping[str, Any]) -> str:
    """The human-visible text of a Slack message: text, attachments and blocks."""
    parts: list[str] = []
    if isinstance(message.get("text"), str):
        parts.append(message["text"])
    for att in as_list(message.get("attachments"))[:20]:
        att = as_dict(att)
        for key in ("pretext", "title", "title_link", "text", "fallback", "footer"):
            if isinstance(att.get(key), str) and (key != "fallback" or not att.get("text")):
                if key != "fallback" or not att.get("blocks"):  # "[no preview available]"
                    parts.append(att[key])
        for field in as_list(att.get("fields"))[:50]:
            field = as_dict(field)
            parts.append(f"{clean(field.get('title'), 200)}: {clean(field.get('value'), 2000)}")
        parts += block_texts(att.get("blocks"))  # Sentry metric alerts, Uptime Kuma, Robusta
    parts += block_texts(message.get("blocks"))
    return "\n".join(p for p in parts if p)[:MAX_TEXT]


def fields(message: Mapping[str, Any]) -> dict[str, str]:
    """Attachment fields as title → value (first one wins), the table most tools post."""
    found: dict[str, str] = {}
    for att in as_list(message.get("attachments"))[:20]:
        for field in as_list(as_dict(att).get("fields"))[:50]:
            field = as_dict(field)
            title = clean(field.get("title"), 200)
            if title and len(found) < MAX_LABELS:
                found.setdefault(title, clean(field.get("value"), MAX_DESCRIPTION))
    return found


def button_urls(message: Mapping[str, Any]) -> list[str]:
    """URLs of link buttons (Block Kit `actions`, legacy attachment `actions`), in order."""
    found: list[str] = []
    containers = [message, *(as_dict(a) for a in as_list(message.get("attachments"))[:20])]
    for holder in containers:
        for action in as_list(holder.get("actions"))[:20]:
            found += [u for u in [url(as_dict(action).get("url"))] if u]
        for block in as_list(holder.get("blocks"))[:100]:
            block = as_dict(block)
            if block.get("type") == "actions":
                for element in as_list(block.get("elements"))[:20]:
                    found += [u for u in [url(as_dict(element).get("url"))] if u]
    return found


def plain(text: str) -> str:
    """Slack mrkdwn → readable text: links as `label (url)`, then `&amp;`/`&lt;`/`&gt;` decoded."""
    return html.unescape(unslack(text))


def sender(message: Mapping[str, Any]) -> str:
    """Who posted: username / bot profile name, lower-cased (how integrations identify)."""
    names = [message.get("username"), as_dict(message.get("bot_profile")).get("name")]
    return " ".join(clean(n, 100).lower() for n in names if isinstance(n, str))


def make_alert(
    *,
    source: AlertSource,
    status: AlertStatus,
    name: str,
    severity_: Severity = "unknown",
    lbls: Mapping[str, Any] | None = None,
    summary: str = "",
    description: str = "",
    fingerprint: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    runbook: str | None = None,
    dashboard: str | None = None,
    source_url: str | None = None,
    service: str | None = None,
    environment: str | None = None,
    group_key: str | None = None,
    truncated: int = 0,
    panel: str | None = None,
    silence: str | None = None,
    count: int = 1,
    recognised: bool = True,
) -> Alert:
    """Build a bounded, normalized Alert; the fingerprint is derived when the source has none."""
    lbls = labels(lbls)
    name = clean(name, MAX_NAME) or "UnnamedAlert"
    svc = clean(service, MAX_LABEL_CHARS) or first_label(lbls, SERVICE_KEYS)
    env = clean(environment, MAX_LABEL_CHARS) or first_label(lbls, ENV_KEYS)
    return Alert(
        source=source,
        status=status,
        name=name,
        severity=severity_,
        service=svc or None,
        environment=env or None,
        summary=clean(summary, MAX_SUMMARY),
        description=clean(description, MAX_DESCRIPTION),
        fingerprint=clean(fingerprint, 128) or fingerprint_for(source, name, lbls),
        starts_at=starts_at,
        ends_at=ends_at,
        labels=lbls,
        links=AlertLinks(
            runbook=url(runbook),
            dashboard=url(dashboard),
            source=url(source_url),
            panel=url(panel),
            silence=url(silence),
        ),
        group_key=clean(group_key, 1000) or None,
        truncated=max(0, truncated),
        count=min(max(1, count), 100_000),
        recognised=recognised,
    )


_KV_BULLET = re.compile(
    r"^\s*[•\-]\s*\*?([A-Za-z_][\w.\-]{0,100})\*?\s*[:=]\*?\s*`?([^`\n]*)`?\s*$"
)


def kv_lines(text: str) -> dict[str, str]:
    """Label lines as templates print them: `• *key:* \\`value\\`` or ` - key = value`."""
    found: dict[str, str] = {}
    for line in text.splitlines()[:500]:
        match = _KV_BULLET.match(line) if len(line) <= 2 * MAX_LABEL_CHARS else None
        if match and len(found) < MAX_LABELS:
            key, value = match.group(1), match.group(2).strip()
            if value:
                found.setdefault(clean(key, MAX_LABEL_CHARS), clean(value, MAX_LABEL_CHARS))
    return found


def field_after(text: str, label: str) -> str:
    """The value after `*Label:*` or `Label:` on the same line."""
    match = re.search(rf"\*?{re.escape(label)}:?\*?:?\s*(.+)", text, re.IGNORECASE)
    return clean(match.group(1), MAX_DESCRIPTION) if match else ""


def looks_like_grafana(message: Mapping[str, Any], attachment: Mapping[str, Any]) -> bool:
    """Grafana reuses Alertmanager's title shape; its footer or sender name tells them apart."""
    footer = clean(attachment.get("footer"), 200).lower()
    return "grafana" in footer or "grafana" in sender(message)


def env_in_text(text: str) -> str | None:
    """An environment word (`prod`, `uat`…) standing alone in free text, if any."""
    for token in re.findall(r"[\w-]+", text.lower()[:2000]):
        if isinstance(token, str) and token in ENV_WORDS:
            return token
    return None


def unlink(text: str) -> str:
    """`<http://x|label>` → `label`; `<http://x>` → `http://x` (for names and field values)."""
    return _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)


def runbook_and_dashboard(text: str) -> tuple[str | None, str | None]:
    """The first runbook-looking and dashboard-looking URLs in free text."""
    urls = urls_in(text[:MAX_TEXT])
    runbook = next((u for u in urls if "runbook" in u.lower() or "/wiki/" in u), None)
    dashboard = next(
        (u for u in urls if any(k in u for k in ("grafana", "/d/", "/dashboard", "viewPanel"))),
        None,
    )
    return runbook, dashboard
