"""Wrapping attacker-reachable text before it reaches the model.

Alert text, thread messages and question text can be written by anyone who can make a system
alert or post in a channel. It goes to the model inside `<untrusted_data>` tags the persona treats
as data only. Anything that could close the tag early, invisible characters that hide
instructions, and control characters are neutralised, and the size is bounded.
"""

from __future__ import annotations

import re

from bot.text import clean_text

MAX_UNTRUSTED_CHARS = 20_000

_TAG = re.compile(r"<\s*/?\s*(untrusted_data|trusted_facts)", re.IGNORECASE)


def neutralise(text: str, limit: int = MAX_UNTRUSTED_CHARS) -> str:
    """Strip invisible/control characters and tag look-alikes; cut to `limit` chars."""
    text = clean_text(text)
    text = _TAG.sub(lambda m: "[tag " + m.group(1).lower() + "]", text)
    if len(text) > limit:
        text = text[:limit] + f"\n[... {len(text) - limit} more characters cut]"
    return text


def wrap_untrusted(source: str, text: str) -> str:
    """Label `text` as data from `source`; the model is told never to follow it."""
    return f'<untrusted_data source="{source}">\n' f"{neutralise(text)}\n" f"</untrusted_data>"
