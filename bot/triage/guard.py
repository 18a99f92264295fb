"""The output guard: what the model wrote is checked before anyone in Slack sees it.

Input wrapping (`untrusted.py`) makes injected instructions less likely to be followed; this
module assumes they sometimes will be. It treats every string of a `TriageAnswer` as hostile and,
before the answer is posted:

- removes Slack mass and special mentions in any spelling (`<!channel>`, `<!here|here>`,
  `<!subteam^S1>`, `@channel`, `＠HERE`, `@ch\u200bannel`), unless the operator allows them,
  because one injected alert must not be able to page a whole trading floor;
- drops links (scheme URLs, Slack `<url|label>`, markdown `[label](url)`, bare `evil.example/x`)
  whose host the context did not supply, so the bot cannot be made to phish its own users;
- masks whatever `bot.redact.redact` masks, so a secret copied from the alert is not re-posted;
- caps every string and list, so a flood cannot crowd the actions out of the message.

Pure functions, no I/O: the wizard calls `guard_answer` from `_check`, and every rule is unit
tested on its own. The returned notes say what was removed (counts and kinds, never the removed
text or host, which would re-post what was just dropped).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.models import Context, Deploy, TriageAnswer
from bot.redact import redact
from bot.text import clean_text
from bot.triage.versions import unknown_versions

MAX_STRING = 2000
MAX_ITEMS = 25

MENTION_REMOVED = "[mention removed]"
LINK_REMOVED = "[link removed]"

# `<!channel>`, `< ! here | here >`, `<!subteam^S0123|@oncall>`, `<!date^…>`: every `<!…>` form.
_SPECIAL_MARKUP = re.compile(r"<\s*!\s*[^<>]{0,200}>")
# `<@U123>` / `<@W123|name>`: a user ping; `<#C123>`: a channel link. Never needed in an answer.
_USER_MARKUP = re.compile(r"<\s*[@#]\s*[A-Za-z0-9]{1,30}(?:\|[^<>]{0,100})?>")
# Plain-text mass mentions; Slack parses these when `link_names` is on or a client re-parses.
_PLAIN_MENTION = re.compile(r"[@＠﹫]\s*(?:channel|here|everyone|group|all)\b", re.IGNORECASE)

_SCHEMES = r"(?:https?|ftps?|sftp|wss?|file|javascript|data|mailto|tel|slack)"
# `<https://evil.example|click>` / `<mailto:x@y>`: Slack's link markup, any scheme.
_SLACK_LINK = re.compile(rf"<\s*({_SCHEMES}:[^<>|\s]*)\s*(?:\|([^<>]*))?>", re.IGNORECASE)
# `[click](https://evil.example)`: markdown links (Slack ignores them, other clients do not).
_MD_LINK = re.compile(rf"\[([^\[\]\n]{{0,300}})\]\(\s*({_SCHEMES}:[^)\s]*)\s*\)", re.IGNORECASE)
_SCHEME_URL = re.compile(
    r"\b(?:(?:https?|ftps?|sftp|wss?|file|slack)://|(?:javascript|mailto):)[^\s<>\"'`|\\)\]}]+",
    re.IGNORECASE,
)
# Bare hosts that clients auto-link: `evil.example/x` (anything with a path), or a name under a
# common public TLD. Internal names without a path (`ogw-3.prod.internal`) are left alone.
_LABEL = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
_PUBLIC_TLDS = (
    # No TLD that is also a common file extension (`.sh`, `.cc`, `.in`, `.zip`): `deploy.sh` in a
    # runbook step is a script, not a link. Those hosts are still caught with a path or scheme.
    "com|net|org|io|co|ai|app|dev|info|biz|xyz|top|me|ly|gl|ru|cn|tk|ga|cf|gq|"
    "us|uk|de|fr|eu|ch|nl|jp|site|online|link|click|example"
)
_BARE_HOST = re.compile(
    rf"(?<![\w.@-])(?<![\w.-]/)((?:{_LABEL}\.)+(?:[a-z]{{2,63}}))(?=/)[^\s<>\"'`|)\]]*"
    rf"|(?<![\w./-])((?:{_LABEL}\.)+(?:{_PUBLIC_TLDS}))\b(?![.-]\w)",
    re.IGNORECASE,
)
# Any other lower-case `name.tld` is a link too (attackers register uncommon TLDs: `.zone`,
# `.support`, `.help`…), unless its last label is a file extension or an internal suffix that
# runbooks and answers name all the time.
_ANY_BARE = re.compile(rf"(?<![\w./@-])((?:{_LABEL}\.)+([a-z]{{2,63}}))\b(?![.-]\w)(?!/)")
NOT_TLDS = frozenset(
    "sh cc cpp in h c py rb pl js ts go rs java jar class json yaml yml toml ini cfg conf md txt "
    "log csv sql xml "
    "html htm css tar gz tgz bz2 xz zip lock pem key crt csr der pid sock service timer socket "
    "mount target internal local localdomain lan corp home intranet svc cluster prod staging dev "
    "test example invalid localhost arpa so dll exe bin out tmp bak old swp env properties gradle "
    "tf tfvars hcl rules proto jsonl ndjson parquet avro db sqlite".split()
)
_REDACTED = "[REDACTED:"


@dataclass(frozen=True)
class GuardPolicy:
    """What an answer may contain: link hosts, mass mentions, and size caps."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    allow_mass_mentions: bool = False
    max_string: int = MAX_STRING
    max_items: int = MAX_ITEMS
    redactor: Callable[[str], str] = field(default=redact)

    def host_allowed(self, host: str | None) -> bool:
        """Exact match for context hosts; a configured domain also covers its subdomains."""
        name = normalize_host(host)
        if not name:
            return False
        if name in self.allowed_hosts:
            return True
        return any(name == d or name.endswith("." + d) for d in self.allowed_domains)


@dataclass
class Findings:
    """Counts of what was removed from one answer, turned into reader-facing notes."""

    mentions: int = 0
    links: int = 0
    secrets: int = 0
    cut_strings: int = 0
    dropped_items: int = 0

    def notes(self) -> list[str]:
        notes: list[str] = []
        if self.mentions:
            notes.append(
                f"Removed {self.mentions} Slack mention(s) from the model's answer "
                "(mass or user mentions are never posted by the wizard)."
            )
        if self.links:
            notes.append(
                f"Removed {self.links} link(s) to hosts that are not in the alert's context "
                "or the allow-list."
            )
        if self.secrets:
            notes.append(
                f"Masked {self.secrets} secret or identifier(s) in the model's answer; "
                "if one is real, rotate it."
            )
        if self.cut_strings or self.dropped_items:
            notes.append(
                f"Shortened the model's answer ({self.cut_strings} long text(s) cut, "
                f"{self.dropped_items} list item(s) dropped)."
            )
        return notes


def normalize_host(host: str | None) -> str:
    """Lower-case, no trailing dot, no port, IDNA-encoded; "" when it is not a usable host."""
    if not host:
        return ""
    name = host.strip().lower().rstrip(".")
    if ":" in name and not name.startswith("["):
        name = name.split(":", 1)[0]
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    return name


def url_host(url: str) -> str:
    """The host of `url` as a browser would see it ("" if it has none or cannot be parsed)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return ""
    if "\\" in url or "@" in (parts.netloc or ""):
        return ""  # `https://trusted.host@evil.example/`: user-info only serves to deceive
    return normalize_host(host)


def context_hosts(context: Context | None, extra_urls: Iterable[str | None] = ()) -> frozenset[str]:
    """Hosts the model may link to besides the configured domains: the runbook URLs only.

    An alert's own links (title_link, dashboard, generator URL) come from the alert payload, which
    an attacker can shape: they are shown as the alert's links by the renderer, but never widen
    what the model's answer may link to. Free text is never a source either.
    """
    urls: list[str | None] = list(extra_urls)
    if context is not None and context.runbook is not None:
        urls.append(context.runbook.url)
    return frozenset(h for h in (url_host(u) for u in urls if u) if h)


# `\u200b` written out as text: a model echoing JSON-escaped input splits secrets this way.
_ESCAPED_INVISIBLE = re.compile(
    r"\\u(?:00ad|061c|180e|200[b-f]|202[a-e]|206[0-9a-f]|feff)", re.IGNORECASE
)


def _visible(text: str) -> str:
    """The text as Slack will show it: invisible, bidi and control characters removed."""
    return clean_text(_ESCAPED_INVISIBLE.sub("", text))


def _strip_mentions(text: str, findings: Findings, policy: GuardPolicy) -> str:
    def removed(_: re.Match[str]) -> str:
        findings.mentions += 1
        return MENTION_REMOVED

    text = _USER_MARKUP.sub(removed, text)
    if policy.allow_mass_mentions:
        return text
    text = _SPECIAL_MARKUP.sub(removed, text)
    text = _PLAIN_MENTION.sub(removed, text)
    folded = unicodedata.normalize("NFKC", text)
    if folded != text and (_SPECIAL_MARKUP.search(folded) or _PLAIN_MENTION.search(folded)):
        # A disguised spelling (fullwidth letters, compatibility forms): use the plain form.
        text = _PLAIN_MENTION.sub(removed, _SPECIAL_MARKUP.sub(removed, folded))
    return text


def _strip_links(text: str, findings: Findings, policy: GuardPolicy) -> str:
    def drop(url: str, label: str | None) -> str:
        if policy.host_allowed(url_host(url)):
            return f"{label.strip()} ({url})" if label and label.strip() else url
        findings.links += 1
        shown = (label or "").strip()
        return f"{shown} {LINK_REMOVED}" if shown else LINK_REMOVED

    text = _SLACK_LINK.sub(lambda m: drop(m.group(1), m.group(2)), text)
    text = _MD_LINK.sub(lambda m: drop(m.group(2), m.group(1)), text)
    text = _SCHEME_URL.sub(lambda m: drop(m.group(0), None), text)

    def bare(match: re.Match[str]) -> str:
        host = match.group(1) or match.group(2) or ""
        if policy.host_allowed(host):
            return match.group(0)
        findings.links += 1
        return LINK_REMOVED

    def any_bare(match: re.Match[str]) -> str:
        if match.group(2) in NOT_TLDS or policy.host_allowed(match.group(1)):
            return match.group(0)
        findings.links += 1
        return LINK_REMOVED

    return _ANY_BARE.sub(any_bare, _BARE_HOST.sub(bare, text))


def _mask(text: str, findings: Findings, policy: GuardPolicy) -> str:
    masked = policy.redactor(text)
    if masked != text:
        findings.secrets += max(1, masked.count(_REDACTED) - text.count(_REDACTED))
    return masked


def clean_string(text: str, policy: GuardPolicy, findings: Findings | None = None) -> str:
    """One model-written string made safe to post; `findings` counts what was removed."""
    found = findings if findings is not None else Findings()
    value = _visible(str(text))
    if len(value) > policy.max_string * 4:  # bound the regex work before the real cut
        value = value[: policy.max_string * 4]
    value = _mask(value, found, policy)
    value = _strip_mentions(value, found, policy)
    value = _strip_links(value, found, policy)
    value = _mask(value, found, policy)  # a removal can join text back into a secret's shape
    if len(value) > policy.max_string:
        found.cut_strings += 1
        value = value[: policy.max_string - 1].rstrip() + "…"
    return value


def _clean_value(value: Any, policy: GuardPolicy, findings: Findings) -> Any:
    if isinstance(value, str):
        return clean_string(value, policy, findings)
    if isinstance(value, list):
        if len(value) > policy.max_items:
            findings.dropped_items += len(value) - policy.max_items
            value = value[: policy.max_items]
        return [_clean_value(v, policy, findings) for v in value]
    if isinstance(value, dict):
        return {k: _clean_value(v, policy, findings) for k, v in value.items()}
    return value


def guard_answer(answer: TriageAnswer, policy: GuardPolicy) -> tuple[TriageAnswer, list[str]]:
    """The answer with every string and list cleaned, and notes on what was removed."""
    findings = Findings()
    data = answer.model_dump(mode="json")
    confidence = data.pop("confidence", "low")
    cleaned = _clean_value(data, policy, findings)
    cleaned["confidence"] = confidence
    return TriageAnswer.model_validate(cleaned), findings.notes()


UNVERIFIED_VERSION = "[unverified version]"


def hold_versions(
    answer: TriageAnswer, history: Sequence[Deploy]
) -> tuple[TriageAnswer, list[str]]:
    """The answer's free text held to deploy history like the rollback plan: a version-looking
    token history does not name ("Roll back to v6.6.6" from an injected alert) is replaced by
    `[unverified version]`. The note counts them without quoting them (Slack must never show
    an invented version); they are kept in `rollback.rejected_versions`, i.e. the audit record.
    The rollback plan itself was already checked (`check_model_plan`)."""
    data = answer.model_dump(mode="json")
    rollback = data.pop("rollback")
    texts = _strings(data)
    found = unknown_versions(texts, history)
    if not found:
        return answer, []
    pattern = re.compile("|".join(re.escape(v) for v in sorted(found, key=len, reverse=True)))
    cleaned = _map_strings(data, lambda s: pattern.sub(UNVERIFIED_VERSION, s))
    rejected = [*rollback.get("rejected_versions", []), *found]
    cleaned["rollback"] = {**rollback, "rejected_versions": rejected}
    note = (
        f"Replaced {len(found)} version string(s) in the answer that the deploy history does "
        "not contain (kept in the audit record)."
    )
    return TriageAnswer.model_validate(cleaned), [note]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value
