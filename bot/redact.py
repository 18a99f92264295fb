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

_KEY_WORDS = (
    r"password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|credentials?|auth[_-]?key|signature"
)
KEY_WORDS = _KEY_WORDS
"""The words that make `<word>: <value>` a secret (the streamed-text guard holds a chunk back
when it ends on one, bot/triage/chunks.py)."""
# `db_password: x`, `"db_password": "x"`, `\"AWS_SECRET_ACCESS_KEY\": \"x\"` (escaped JSON inside
# a JSON string) and `\npassword=x` (a line start inside JSON text, where `\b` fails after `n`):
# the key may carry any prefix and suffix, closing and opening quotes may be escaped.
_KEY_VALUE = re.compile(
    rf"(?i)((?<![\w.-])[\w.-]*?(?:{_KEY_WORDS})[\w.-]*(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)"
    r"(?!\[REDACTED:)(?!\d{1,6}\b)(?!(?:true|false|null|none)\b)([^\s'\",;&\\<>|]{3,})"
)
_SIGNED_URL_PARAMS = (
    r"token|access_token|id_token|refresh_token|sig|signature|x-amz-signature"
    r"|x-amz-security-token|x-amz-credential|x-goog-signature|x-goog-credential|key|api_key"
    r"|apikey|password|pwd|secret|client_secret|auth|code"
)
_CARD = re.compile(r"(?<![\d.-])(?:\d[ -]?){12,18}\d(?![\d.])")

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
        re.compile(
            r"(?i)(aws_?secret_?access_?key(?:\\?[\"'])?\s*[:=]\s*)(?:\\?[\"'])?"
            r"[A-Za-z0-9/+=]{40}(?:\\?[\"'])?"
        ),
    ),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[0-9A-Za-z]{30,}|github_pat_[0-9A-Za-z_]{30,})")),
    ("gitlab-token", re.compile(r"\bglpat-[0-9A-Za-z_-]{16,}")),
    ("stripe-key", re.compile(r"\b[rsp]k_(?:live|test)_[0-9A-Za-z]{16,}")),
    ("jwt", re.compile(r"\beyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}")),
    ("bearer", re.compile(r"(?i)\b(bearer|token|basic)\s+[0-9A-Za-z._~+/=-]{12,}")),
    ("url-password", re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)")),
    (
        "signed-url",
        re.compile(rf"(?i)([?&;](?:{_SIGNED_URL_PARAMS})=)(?!\[REDACTED:)[^&\s#\"'<>|\\]+"),
    ),
    ("password-field", _KEY_VALUE),
    ("card-number", _CARD),
)

_extra_patterns: list[tuple[str, re.Pattern[str]]] = []

DEFAULT_FIX_TAGS = (1, 11, 37, 41, 448, 49, 56, 50, 57, 109, 79)
"""FIX tags whose values identify a client, an order or a counterparty: Account(1), ClOrdID(11),
OrderID(37), OrigClOrdID(41), PartyID(448), Sender/TargetCompID(49/56), Sender/TargetSubID
(50/57), ClientID(109), AllocAccount(79). `WIZARD_REDACT_FIX_TAGS` replaces the list."""


def _fix_pattern(tags: Iterable[int]) -> re.Pattern[str]:
    """`1=ACC`, after a FIX field delimiter (SOH, `|`, `^A`, `;`, space) or the start."""
    alternatives = "|".join(str(t) for t in sorted(set(tags), key=lambda t: -len(str(t))))
    return re.compile(
        rf"(?:^|(?<=[\x01|;\s^])|(?<=\^A))(?:{alternatives})=([^\x01|;\s^\[\]]{{1,64}})",
        re.MULTILINE,
    )


def _alnum(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch.upper()) - 55


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def isin_ok(value: str) -> bool:
    """ISO 6166: Luhn over the letters-as-numbers expansion."""
    return _luhn_ok("".join(str(_alnum(c)) for c in value))


def lei_ok(value: str) -> bool:
    """ISO 17442: the 20 characters read as a number are 1 mod 97."""
    return int("".join(str(_alnum(c)) for c in value)) % 97 == 1


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|35|3[068])")


def card_ok(value: str) -> bool:
    """A payment card number: an issuer prefix, 13-19 digits and a valid Luhn digit."""
    digits = re.sub(r"[ -]", "", value)
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and _luhn_ok(digits)


_VALIDATORS: dict[str, Callable[[str], bool]] = {"isin": isin_ok, "lei-bare": lei_ok}


def _trading_patterns(fix_tags: Iterable[int]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return (
        ("lei", re.compile(r"(?i)\bLEI(?:\\?[\"'])?[\s:#=\"'\\]*([0-9A-Z]{18}[0-9]{2})\b")),
        ("lei-bare", re.compile(r"\b[0-9A-Z]{18}[0-9]{2}\b")),
        ("isin", re.compile(r"\b[A-Z]{2}[A-Z0-9]{9}[0-9]\b")),
        ("cusip", re.compile(r"(?i)\bcusip(?:\\?[\"'])?[\s:#=\"'\\]*([0-9A-Z*@#]{8}[0-9])\b")),
        (
            "sedol",
            re.compile(r"(?i)\bsedol(?:\\?[\"'])?[\s:#=\"'\\]*([0-9B-DF-HJ-NP-TV-Z]{6}[0-9])\b"),
        ),
        ("fix", _fix_pattern(fix_tags)),
        (
            "account",
            re.compile(
                r"(?i)\b(?:acct|account|acc)(?:[ _-]?(?:id|no|number))?\b[\s:#=_\"'\\-]*"
                r"(?=[A-Za-z0-9-]*\d)([A-Za-z0-9-]{4,})\b"
            ),
        ),
        ("clordid", re.compile(r"(?i)\b(?:clordid|cl_ord_id)[ :=\"'\\]*([A-Za-z0-9._-]{4,})")),
        # The value starts at a non-space and `[` ends it: a mask must never be re-captured
        # (redact() must be idempotent).
        (
            "client",
            re.compile(
                r"(?i)\bclient[_ ]?(?:name|id)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?"
                r"([^'\",;\s\[\\][^'\",;\n\[\\]{1,59})"
            ),
        ),
        (
            "strategy",
            re.compile(
                r"(?i)\bstrategy[_ ]?(?:name|id)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?([\w.-]{2,60})"
            ),
        ),
    )


_TRADING_PATTERNS = _trading_patterns(DEFAULT_FIX_TAGS)


def configure(extra_patterns: Iterable[str] = (), fix_tags: Iterable[int] | None = None) -> None:
    """Add firm-specific identifier patterns (regexes) on top of the defaults, and choose the
    FIX tags whose values are identifiers (`WIZARD_REDACT_FIX_TAGS`)."""
    global _TRADING_PATTERNS
    _extra_patterns.clear()
    _extra_patterns.extend(("custom", re.compile(p)) for p in extra_patterns)
    _TRADING_PATTERNS = _trading_patterns(DEFAULT_FIX_TAGS if fix_tags is None else fix_tags)
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
    "stripe-key": ("k_live_", "k_test_"),
    "jwt": ("eyj",),
    "bearer": ("bearer", "token", "basic"),
    "url-password": ("://",),
    "signed-url": ("=",),
    "password-field": ("pass", "pwd", "secret", "key", "token", "credential", "signature"),
    "fix": ("=",),
    "account": ("acc",),
    "clordid": ("clordid", "cl_ord_id"),
    "client": ("client",),
    "strategy": ("strategy",),
    "lei": ("lei",),
    "cusip": ("cusip",),
    "sedol": ("sedol",),
}


_LITERALS = tuple(sorted({t for triggers in _TRIGGERS.values() for t in triggers}))
_KINDS_OF = {t: frozenset(k for k, ts in _TRIGGERS.items() if t in ts) for t in _LITERALS}


def _wanted_kinds(lowered: str) -> frozenset[str]:
    """The kinds whose trigger occurs in `lowered`: one `in` test per literal, shared by all
    patterns (per pattern and trigger, it was the largest cost of a scrub at the door: 27
    generator calls per string). Kinds without triggers always run and are not listed."""
    present = [t for t in _LITERALS if t in lowered]
    if not present:
        return frozenset()
    return frozenset().union(*(_KINDS_OF[t] for t in present))


def _wanted(kind: str, kinds: frozenset[str]) -> bool:
    return kind in kinds or kind not in _TRIGGERS


def _mask(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def redact(text: str, *, trading: bool = True) -> str:
    """Mask secrets (always) and trading identifiers (unless `trading=False`: the Slack reply,
    where pseudonyms are re-hydrated for the humans); idempotent and safe on any string.

    Results are cached: every reply, prompt and audit record is walked string by string, and
    most strings repeat (block types, runbook lines, the persona), which made redaction the
    largest CPU cost of a job in a storm. Only short strings are cached: long ones (prompts,
    whole answers, alert bodies) are each seen once, and caching them held up to 16 k of them —
    the RSS grew 16 % over 10 k events (bench/stages.py --only rss)."""
    if not text:
        return text
    if len(text) > CACHED_MAX_CHARS:
        return _redact_text(text, trading)
    return _redact_cached(text, trading)


CACHED_MAX_CHARS = 1024
"""Longest string whose redaction is cached: the cache then holds at most ≈ 8192 × 2 KB."""


@functools.lru_cache(maxsize=8192)
def _redact_cached(text: str, trading: bool) -> str:
    return _redact_text(text, trading)


def _redact_text(text: str, trading: bool) -> str:
    kinds = _wanted_kinds(text.lower())
    for kind, pattern in _SECRET_PATTERNS:
        if not _wanted(kind, kinds):
            continue
        if kind in ("url-password",):
            text = pattern.sub(lambda m: f"{m.group(1)}{_mask('password')}{m.group(2)}", text)
        elif kind in ("aws-secret", "signed-url"):
            text = pattern.sub(functools.partial(_keep_label, mask=_mask(kind)), text)
        elif kind == "password-field":
            text = pattern.sub(lambda m: f"{m.group(1)}{_mask('secret')}", text)
        elif kind == "bearer":
            text = pattern.sub(lambda m: f"{m.group(1)} {_mask('token')}", text)
        elif kind == "card-number":
            text = pattern.sub(lambda m: _mask("card") if card_ok(m.group(0)) else m.group(0), text)
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
    kinds = _wanted_kinds(text.lower())
    for kind, pattern in (*_TRADING_PATTERNS, *_extra_patterns):
        if not _wanted(kind, kinds):
            continue
        text = pattern.sub(functools.partial(_replace_group, kind=kind, replace=replace), text)
    return text


def _keep_label(match: re.Match[str], mask: str) -> str:
    return f"{match.group(1)}{mask}"


_KIND_NAMES = {"lei-bare": "lei"}


def _replace_group(match: re.Match[str], kind: str, replace: Callable[[str, str], str]) -> str:
    """Replace only the identifier group, keeping the label so the text stays readable.
    Check-digit kinds (ISIN, a bare LEI) are replaced only when the check digits agree."""
    validator = _VALIDATORS.get(kind)
    if validator is not None and not validator(match.group(match.re.groups and 1)):
        return match.group(0)
    kind = _KIND_NAMES.get(kind, kind)
    if match.re.groups == 0:
        return replace(kind, match.group(0))
    start, end = match.span(1)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + replace(kind, match.group(1)) + whole[end - offset :]


PSEUDONYM = re.compile(
    r"\b(?:ACCOUNT|LEI|CLORDID|CLIENT|STRATEGY|CUSTOM|FIX|ISIN|CUSIP|SEDOL)-[0-9a-f]{10}\b"
)
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
