"""Text hygiene shared by every place untrusted text is shown or handed on.

Zero-width, bidi and other invisible characters can hide or reorder text (Trojan Source style),
and control characters can rewrite a terminal (ESC sequences). The same set is removed before
text reaches Slack, the terminal and the model, so one list is kept here.
"""

from __future__ import annotations

import re

# Zero-width, bidi overrides/isolates, invisible separators and Unicode "tag" characters.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
# C0 (except \t and \n) and C1 controls, including ESC.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")


def clean_text(text: object) -> str:
    """Drop invisible, bidi and control characters (keeping newlines and tabs); normalize EOLs."""
    value = _NEWLINES.sub("\n", str(text))
    return CONTROL.sub("", INVISIBLE.sub("", value))


def subject(name: str, where: str | None) -> str:
    """`Kafka consumer lag high on risk-engine`: the alert name and where it fires, said once.

    Many alert names already end in their service ("… on risk-engine"); appending it again made
    "… on risk-engine on risk-engine" in cards and headers."""
    if not where or where.casefold() in name.casefold():
        return name
    return f"{name} on {where}"
