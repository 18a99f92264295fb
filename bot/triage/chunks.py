"""The output guard for streamed text: the model's deltas become chunks that are safe to post.

`guard.py` cleans a finished answer; a streamed answer is posted while it is written, so each
chunk must be cleaned before Slack sees it — and a chunk boundary must never split what the
guard would have caught in the whole text: `xoxb-12` + `34-…`, `password:` + ` hunter2`, a card
number across a space, a private key over many lines, a link or mention across two deltas.

So text is released only at a *safe boundary*: after a newline, or (for a long line) at a space
that leaves `HOLD_CHARS` held back; never right after something a secret can start with (a
key word and its `:`/`=`, `bearer`, trailing digits), and never where cleaning the two sides
apart differs from cleaning them together. Inside a private key nothing is released until its
END line. Each released chunk passes `clean_string` (mentions, links, secrets, invisible
characters) and, with deploy history, has invented versions replaced as in `hold_versions`.
`findings` counts what was removed, for the answer's notes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.models import Deploy
from bot.redact import KEY_WORDS, redact
from bot.triage.guard import UNVERIFIED_VERSION, Findings, GuardPolicy, clean_string
from bot.triage.versions import unknown_versions

HOLD_CHARS = 48
"""Of an unfinished line, this much is always held back (the longest secret *prefix* a later
delta could complete is shorter)."""
LONG_LINE = 120
"""An unfinished line longer than this is released up to a safe space (first words appear
without waiting for a newline)."""
MAX_CHUNK = 11_000
"""Below Slack's 12,000-character `markdown_text` limit per call."""

_UNSAFE_TAIL = re.compile(
    rf"(?:(?i:(?:{KEY_WORDS})[\w.-]*(?:\\?[\"'])?\s*[:=]?)"  # `password:` / `api_key =`
    r"|(?i:\b(?:bearer|token|basic|lei|cusip|sedol|isin|clordid|cl_ord_id)[\s:#=\"']*)"
    r"|<[^>\n]{0,200}"  # an unclosed `<…>` (Slack mention or link markup)
    r"|\[[^\]\n]{0,300}\]?\(?[^)\s]{0,300}"  # an unfinished markdown link
    r"|-----BEGIN[A-Z0-9 ]*-*)\s*$"
)
_DIGITS_TAIL = re.compile(r"(?:\d[ -]?){1,18}$")
"""A card or account number may continue after a space or dash (never after a newline)."""
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


class ChunkGuard:
    """Feed it the model's deltas; it returns what may be posted now, guarded."""

    def __init__(
        self,
        policy: GuardPolicy,
        history: Sequence[Deploy] | None = None,
        *,
        hold_chars: int = HOLD_CHARS,
        long_line: int = LONG_LINE,
    ) -> None:
        self.policy = policy
        self.history = history
        self.hold_chars = hold_chars
        self.long_line = long_line
        self.findings = Findings()
        self.rejected_versions: list[str] = []
        self._pending = ""
        self._in_key = False

    def feed(self, delta: str) -> str:
        """Add one delta; return the guarded text that became safe to post ("" if none)."""
        self._pending += delta
        cut = self._boundary()
        if cut <= 0:
            return ""
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._clean(ready)

    def flush(self) -> str:
        """The rest, at the end of the answer (an unclosed private key stays masked)."""
        ready, self._pending = self._pending, ""
        return self._clean(ready) if ready else ""

    # --- internals --------------------------------------------------------------------------
    def _safe(self, cut: int) -> bool:
        head, tail = self._pending[:cut], self._pending[cut:]
        if _UNSAFE_TAIL.search(head[-320:]) or _DIGITS_TAIL.search(head[-40:]):
            return False
        return redact(head) + redact(tail) == redact(head + tail)

    def _boundary(self) -> int:
        """Where the pending text may be cut (0: hold everything for now)."""
        text = self._pending
        newline = text.rfind("\n")
        while newline >= 0:
            if self._safe(newline + 1):
                return newline + 1
            newline = text.rfind("\n", 0, newline)
        if len(text) - max(text.rfind("\n"), 0) <= self.long_line:
            return 0
        limit = len(text) - self.hold_chars
        space = text.rfind(" ", 0, limit)
        for _ in range(8):  # a few earlier spaces, then wait for more text
            if space <= 0:
                return 0
            if self._safe(space + 1):
                return space + 1
            space = text.rfind(" ", 0, space)
        return 0

    def _clean(self, ready: str) -> str:
        if self._in_key:
            end = _KEY_END.search(ready)
            if end is None:
                return ""  # still inside the key: already shown as masked
            ready = ready[end.end() :]
            self._in_key = False
        begins = list(_KEY_BEGIN.finditer(ready))
        if begins and not _KEY_END.search(ready, begins[-1].end()):
            self._in_key = True  # `redact` masks from BEGIN to the end of this chunk
        cleaned = clean_string(ready, self.policy, self.findings)
        if self.history is not None:
            found = unknown_versions([cleaned], self.history)
            for version in sorted(found, key=len, reverse=True):
                cleaned = cleaned.replace(version, UNVERIFIED_VERSION)
            self.rejected_versions += [v for v in found if v not in self.rejected_versions]
        return cleaned


def chunk_policy(policy: GuardPolicy) -> GuardPolicy:
    """`policy` with the per-string cap raised to a streaming chunk's size (the whole answer
    is capped by the stream, bot/slack/streaming.py)."""
    return GuardPolicy(
        allowed_hosts=policy.allowed_hosts,
        allowed_domains=policy.allowed_domains,
        allow_mass_mentions=policy.allow_mass_mentions,
        max_string=MAX_CHUNK,
        max_items=policy.max_items,
        redactor=policy.redactor,
    )
