"""The door: every text from outside is scrubbed here once, before anything is stored.

Alert posts, edits, follow-ups, questions, mentions, button values, freeze reasons and both hooks
pass through `Door` before a job is queued, a deploy or a freeze is written, or an audit record
is made, so Redis (and its AOF), the logs, the audit trail and the model only ever hold the
scrubbed text. Three steps, in this order:

1. pseudonym-shaped tokens typed by a person or planted in an alert are neutralised: only tokens
   the door itself mints may ever be re-hydrated (otherwise posting `ACCOUNT-3f9a0c17be` in a
   thread would make the bot reveal that account);
2. secrets are masked (`bot.redact` plus the detect-secrets plugins over the whole payload);
3. trading identifiers become reversible pseudonyms (`bot/context/pseudonyms.py`), or are masked
   when no pseudonym store is wired.

Applying the door twice would neutralise its own tokens, so each path calls it exactly once: the
intake for jobs, the web layer for deploys, the freeze command for its reason.
"""

from __future__ import annotations

from typing import Any, TypeVar

from bot.context.pseudonyms import Pseudonyms
from bot.redact import PSEUDONYM, redact, redact_obj

T = TypeVar("T")

FOREIGN_TOKEN = "[REDACTED:pseudonym]"  # noqa: S105 - a mask, not a password
JOB_TEXT_FIELDS = ("text", "message", "alerts", "incident_id")
"""Job fields that carry outside text; ids, timestamps and the response_url are left as is."""


def _neutralise(value: Any) -> Any:
    if isinstance(value, str):
        return PSEUDONYM.sub(FOREIGN_TOKEN, value) if PSEUDONYM.search(value) else value
    if isinstance(value, dict):
        return {k: _neutralise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_neutralise(v) for v in value]
    return value


class Door:
    """Scrubs outside text: neutralise foreign tokens, mask secrets, pseudonymise identifiers."""

    def __init__(self, pseudonyms: Pseudonyms | None = None) -> None:
        self.pseudonyms = pseudonyms

    async def scrub(self, value: T) -> T:
        """Any JSON-like value (a string, a dict, a list) scrubbed; the shape is kept."""
        cleaned = redact_obj(_neutralise(value), trading=False, thorough=True)
        if self.pseudonyms is not None:
            cleaned = await self.pseudonyms.protect_obj(cleaned)
        else:
            cleaned = redact_obj(cleaned)
        result: T = cleaned
        return result

    async def text(self, text: str) -> str:
        result: str = await self.scrub(text)
        return result

    async def job_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The outside-text fields of a job (`model_dump(mode="json")`), scrubbed together."""
        picked = {k: fields[k] for k in JOB_TEXT_FIELDS if fields.get(k) is not None}
        if not picked:
            return fields
        scrubbed: dict[str, Any] = await self.scrub(picked)
        return {**fields, **scrubbed}


def echo(text: object, limit: int = 300, *, escape: bool = True) -> str:
    """Outside text made safe to say back in an ack or error (`asked: …`, a bad argument):
    secrets and identifiers masked, foreign tokens neutralised, mentions and links removed,
    mrkdwn escaped, cut to `limit`. Acks are posted by Slack as the bot, so they must never
    carry what the door would not store, nor ping a channel."""
    from bot.render.mrkdwn import escape_mrkdwn
    from bot.triage.guard import GuardPolicy, clean_string

    value = redact(_neutralise(str(text)))
    value = clean_string(value, GuardPolicy(max_string=max(2, limit)))
    return escape_mrkdwn(value) if escape else value
