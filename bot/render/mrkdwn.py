"""Untrusted text made inert in Slack mrkdwn: escaping, safe links, cuts that never split markup.

Everything that comes from an alert or from the model is untrusted. `escape_mrkdwn` escapes
`&`, `<`, `>` so such text can never become Slack markup (`<!channel>`, `<@U…>`,
`<http://evil|click here>`), and drops zero-width/bidi/control characters that could hide or
reorder text. The only links in a message are the ones built here by `link`, and only for
http(s) URLs. Cuts (`cut`, `split`) never end inside an `&amp;` entity or a `<…>` link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.text import CONTROL, INVISIBLE, clean_text

MAX_URL = 1000
MAX_ITEM = 1000
"""Per-item cap, so one runaway bullet cannot eat the message budget; the audit keeps all."""
NONE = "_none_"

_SAFE_URL = re.compile(r"^https?://[^\s<>|\"'`\\]+$", re.IGNORECASE)
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")
PLAIN_MASS_MENTION = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_BARE = re.compile(r"<([^<>|]+)>")
_ENTITY = re.compile(r"&(?:amp|lt|gt);")


def escape_mrkdwn(text: object) -> str:
    """Make untrusted text inert in Slack mrkdwn: escape `&`, `<`, `>`, drop invisibles.

    A plain `@here`/`@channel`/`@everyone` becomes `＠here` (fullwidth at sign): it reads the same
    but no client or `link_names` re-parse turns it into a mass mention.
    """
    value = PLAIN_MASS_MENTION.sub("＠", clean_text(text))
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) URL that cannot break out of `<url|label>`, else None."""
    if not url:
        return None
    value = url.strip()
    if len(value) > MAX_URL or INVISIBLE.search(value) or CONTROL.search(value):
        return None
    if not _SAFE_URL.match(value):
        return None
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        return None  # `https://runbooks.internal@evil.example/` shows one host, opens another
    # `&` is the one character of a URL Slack wants entity-encoded inside `<…>`.
    return value.replace("&", "&amp;")


def link(url: str | None, label: str) -> str:
    """A Slack link for an http(s) URL; otherwise just the escaped label (never raw markup)."""
    text = escape_mrkdwn(label).replace("|", "¦").replace("\n", " ").strip() or "link"
    href = safe_url(url)
    return f"<{href}|{text}>" if href else text


def code(text: str) -> str:
    """Untrusted text as inline code (a version, a model id): escaped, no backticks."""
    return "`" + escape_mrkdwn(text).replace("`", "'").replace("\n", " ") + "`"


def safe_cut_index(text: str, limit: int) -> int:
    """An index ≤ limit that does not split an `&amp;`-style entity or a `<…>` link we built."""
    end = limit
    match = _ENTITY_TAIL.search(text[max(0, end - 4) : end])
    if match:
        end = max(0, end - 4) + match.start()
    opening = text.rfind("<", max(0, end - MAX_URL - 200), end)
    if opening > 0 and text.find(">", opening, end) == -1:
        end = opening
    return end if end > 0 else limit


def cut(text: str, limit: int, *, markup: bool = True) -> str:
    """At most `limit` characters, ending in "…" when anything was cut.

    With `markup` (mrkdwn text) the cut never splits an entity or a link; plain text is cut as is.
    """
    if len(text) <= limit:
        return text
    end = safe_cut_index(text, limit - 1) if markup else limit - 1
    return text[:end].rstrip() + "…"


def split(text: str, limit: int) -> list[str]:
    """Split at line boundaries into chunks of at most `limit` characters.

    A single line longer than `limit` is cut at a space when there is one near the end, never
    inside an entity or a link.
    """
    chunks: list[str] = []
    current = ""
    for raw in text.split("\n"):
        line = raw
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            end = safe_cut_index(line, limit)
            space = line.rfind(" ", limit // 2, end)
            if space > 0:
                end = space
            chunks.append(line[:end])
            line = line[end:].lstrip(" ")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


def bullets(items: Iterable[str], *, numbered: bool = False, limit: int = MAX_ITEM) -> str:
    """Escaped list lines ("1. …" or "• …"); blank items skipped; "_none_" when nothing is left."""
    lines: list[str] = []
    for item in items:
        text = cut(escape_mrkdwn(item).strip(), limit)
        if not text:
            continue
        marker = f"{len(lines) + 1}." if numbered else "•"
        lines.append(f"{marker} " + text.replace("\n", "\n    "))
    return "\n".join(lines) if lines else NONE


def visible(mrkdwn: str) -> str:
    """What a reader sees of mrkdwn: link labels instead of `<url|label>`, entities decoded."""
    text = _LINK.sub(lambda m: m.group(2), mrkdwn)
    text = _BARE.sub(lambda m: m.group(1).lstrip("!@#").split("^")[-1], text)
    return _ENTITY.sub(lambda m: {"&amp;": "&", "&lt;": "<", "&gt;": ">"}[m.group(0)], text)
