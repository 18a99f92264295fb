"""The one redaction function every outward text passes (Slack, the LLM, logs, audit).

Alert text is copied from systems that sometimes leak credentials (a DSN with a password, a bearer
header in an error message) and trading identifiers (client accounts, LEIs, order ids). Masking
them in one place means no path can forget to. Patterns favour false positives: a masked harmless
string costs nothing, a leaked token costs a rotation and an incident report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
            re.DOTALL,
        ),
    ),
    ("slack-token", re.compile(r"\bx(?:ox[abposre]|app)-[0-9A-Za-z-]{8,}")),
    ("slack-webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+")),
    ("anthropic-key", re.compile(r"\bsk-ant-[0-9A-Za-z_-]{8,}")),
    ("openai-key", re.compile(r"\bsk-(?:proj-)?[0-9A-Za-z_-]{20,}")),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    (
        "aws-secret",
        re.compile(r"(?i)(aws_?secret_?access_?key\s*[:=]\s*)['\"]?[A-Za-z0-9/+=]{40}['\"]?"),
    ),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[0-9A-Za-z]{30,}|github_pat_[0-9A-Za-z_]{30,})")),
    ("gitlab-token", re.compile(r"\bglpat-[0-9A-Za-z_-]{16,}")),
    ("jwt", re.compile(r"\beyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}")),
    ("bearer", re.compile(r"(?i)\b(bearer|token|basic)\s+[0-9A-Za-z._~+/=-]{12,}")),
    ("url-password", re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)")),
    (
        "password-field",
        re.compile(
            r"(?i)\b((?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret)"
            r"\s*[:=]\s*)(['\"]?)(?!\[REDACTED:)[^\s'\",;]{3,}\2"
        ),
    ),
)

_TRADING_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("lei", re.compile(r"\b[0-9A-Z]{18}[0-9]{2}\b")),
    (
        "account",
        re.compile(
            r"(?i)\b(?:acct|account|acc)(?:[ _-]?(?:id|no|number))?\b[\s:#=_-]*"
            r"(?=[A-Za-z0-9-]*\d)([A-Za-z0-9-]{4,})\b"
        ),
    ),
    ("clordid", re.compile(r"(?i)\b(?:clordid|cl_ord_id|11=)[ :=]*([A-Za-z0-9._-]{4,})")),
    # The value starts at a non-space and `[` ends it: a mask must never be re-captured
    # (redact() must be idempotent).
    (
        "client",
        re.compile(r"(?i)\bclient[_ ]?(?:name|id)\s*[:=]\s*['\"]?([^'\",;\s\[][^'\",;\n\[]{1,59})"),
    ),
    ("strategy", re.compile(r"(?i)\bstrategy[_ ]?(?:name|id)\s*[:=]\s*['\"]?([\w.-]{2,60})")),
)

_extra_patterns: list[tuple[str, re.Pattern[str]]] = []


def configure(extra_patterns: Iterable[str] = ()) -> None:
    """Add firm-specific identifier patterns (regexes) on top of the defaults."""
    _extra_patterns.clear()
    _extra_patterns.extend(("custom", re.compile(p)) for p in extra_patterns)
    _redact_cached.cache_clear()


# Cheap literal pre-checks (on the lower-cased text): a pattern only runs when one of its
# trigger strings occurs, so ordinary alert text costs a few `in` tests, not 18 regex passes.
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "private-key": ("private key",),
    "slack-token": ("xox", "xapp-"),
    "slack-webhook": ("hooks.slack.com",),
    "anthropic-key": ("sk-ant-",),
    "openai-key": ("sk-",),
    "aws-access-key": ("akia", "asia", "agpa", "aida", "aroa"),
    "aws-secret": ("secret",),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": ("glpat-",),
    "jwt": ("eyj",),
    "bearer": ("bearer", "token", "basic"),
    "url-password": ("://",),
    "password-field": ("pass", "pwd", "secret", "key", "token"),
    "account": ("acc",),
    "clordid": ("clordid", "cl_ord_id", "11="),
    "client": ("client",),
    "strategy": ("strategy",),
}


def _wanted(kind: str, lowered: str) -> bool:
    triggers = _TRIGGERS.get(kind)
    return triggers is None or any(t in lowered for t in triggers)


def _mask(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def redact(text: str, *, trading: bool = True) -> str:
    """Mask secrets (always) and trading identifiers (unless `trading=False`: the Slack reply,
    where pseudonyms are re-hydrated for the humans); idempotent and safe on any string.

    Results are cached: every reply, prompt and audit record is walked string by string, and
    most strings repeat (block types, runbook lines, the persona), which made redaction the
    largest CPU cost of a job in a storm."""
    if not text:
        return text
    return _redact_cached(text, trading)


@functools.lru_cache(maxsize=16384)
def _redact_cached(text: str, trading: bool) -> str:
    lowered = text.lower()
    for kind, pattern in _SECRET_PATTERNS:
        if not _wanted(kind, lowered):
            continue
        if kind in ("url-password",):
            text = pattern.sub(lambda m: f"{m.group(1)}{_mask('password')}{m.group(2)}", text)
        elif kind in ("aws-secret",):
            text = pattern.sub(lambda m: f"{m.group(1)}{_mask('aws-secret')}", text)
        elif kind == "password-field":
            text = pattern.sub(lambda m: f"{m.group(1)}{_mask('secret')}", text)
        elif kind == "bearer":
            text = pattern.sub(lambda m: f"{m.group(1)} {_mask('token')}", text)
        else:
            text = pattern.sub(_mask(kind), text)
    if trading:
        text = sub_trading(text, lambda kind, _: _mask(kind))
    return text


def sub_trading(text: str, replace: Callable[[str, str], str]) -> str:
    """Replace each trading identifier's value with `replace(kind, value)`, keeping its label
    (`account ACC-1234` → `account <replacement>`). Shared by masking and pseudonymisation."""
    if PSEUDONYM.search(text):  # never re-process a pseudonym as if it were an identifier
        parts = PSEUDONYM.split(text)
        tokens = PSEUDONYM.findall(text)
        out = [sub_trading(parts[0], replace)]
        for token, part in zip(tokens, parts[1:], strict=True):
            out += [token, sub_trading(part, replace)]
        return "".join(out)
    lowered = text.lower()
    for kind, pattern in (*_TRADING_PATTERNS, *_extra_patterns):
        if not _wanted(kind, lowered):
            continue
        text = pattern.sub(functools.partial(_replace_group, kind=kind, replace=replace), text)
    return text


def _replace_group(match: re.Match[str], kind: str, replace: Callable[[str, str], str]) -> str:
    """Replace only the identifier group, keeping the label so the text stays readable."""
    if match.re.groups == 0:
        return replace(kind, match.group(0))
    start, end = match.span(1)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + replace(kind, match.group(1)) + whole[end - offset :]


PSEUDONYM = re.compile(r"\b(?:ACCOUNT|LEI|CLORDID|CLIENT|STRATEGY|CUSTOM)-[0-9a-f]{10}\b")
"""A reversible token standing for a trading identifier (see `bot/context/pseudonyms.py`)."""


def redact_obj(value: Any, *, trading: bool = True, thorough: bool = False) -> Any:
    """Redact every string inside a JSON-like structure (dicts, lists, scalars).

    `thorough` adds the detect-secrets plugins, run once over the whole structure's text (not
    per string), then applied to every string.
    """
    value = _walk(value, lambda text: redact(text, trading=trading))
    if thorough:
        found = detected_secrets("\n".join(_strings(value)))
        if found:
            value = _walk(value, lambda text: _mask_detected(text, found))
    return value


def _walk(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fn) for v in value]
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


@functools.cache
def _detectors() -> tuple[tuple[str, Any], ...]:
    """detect-secrets' regex plugins (a maintained catalogue of token formats), loaded once.

    Public-IP detection is left out: addresses are operational facts, not secrets here.
    """
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:  # pragma: no cover - a declared dependency
        return ()
    found: list[tuple[str, Any]] = []
    plugin: Any
    for secret_type, plugin in sorted(get_mapping_from_secret_type_to_class().items()):
        if issubclass(plugin, RegexBasedDetector) and "IP" not in secret_type:
            found.append((re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-"), plugin()))
    return tuple(found)


def detected_secrets(text: str) -> set[str]:
    """Values detect-secrets' regex plugins flag in `text` (one pass per plugin regex)."""
    found: set[str] = set()
    for kind, detector in _detectors():
        for secret in detector.analyze_string(text):
            if len(secret) >= 8 and not secret.startswith("[REDACTED"):
                found.add(f"{kind}\x1f{secret}")
    return found


def _mask_detected(text: str, found: set[str]) -> str:
    for item in sorted(found, key=len, reverse=True):
        kind, _, secret = item.partition("\x1f")
        text = text.replace(secret, _mask(kind))
    return text


def redact_thorough(text: str, *, trading: bool = True) -> str:
    """`redact`, then every detect-secrets regex plugin over what is left.

    Slower (tens of regexes), so it guards the two places where one string or record carries
    everything: the prompt sent to the model and each audit record. Slack blocks and log lines
    get the fast `redact`.
    """
    text = redact(text, trading=trading)
    return _mask_detected(text, detected_secrets(text))
