"""Block Kit messages as readable terminal text, for `wizard demo` and the closing notes.

Untrusted text is stripped of control and bidi characters here as well: in a terminal an ESC
sequence in an alert or model answer could rewrite what is shown.
"""

from __future__ import annotations

import re
from typing import Any

from bot.text import clean_text

_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_BARE = re.compile(r"<([^<>|]+)>")


def _unslack(text: str) -> str:
    """Slack mrkdwn markup as plain text: links, mentions and the three entities."""
    text = _LINK.sub(lambda m: _label(m.group(1), m.group(2)), text)
    text = _BARE.sub(lambda m: _label(m.group(1), ""), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return clean_text(text)


def _label(target: str, label: str) -> str:
    if target.startswith("!"):  # <!channel>, <!subteam^ID|@team>, <!date^…|fallback>
        return label or "@" + target[1:].split("^")[0]
    if target.startswith(("@", "#")):
        return label if label.startswith(("@", "#")) else target[0] + (label or target[1:])
    url = target.replace("&amp;", "&")
    return f"{label} ({url})" if label and label != url else url


def _text(obj: Any) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return _unslack(obj["text"]) if obj.get("type") != "plain_text" else clean_text(obj["text"])
    return ""


def _rich_text(element: Any) -> str:
    """Best-effort text of a rich_text element tree."""
    if isinstance(element, dict):
        if element.get("type") == "text":
            return clean_text(element.get("text", ""))
        if element.get("type") == "link":
            return clean_text(element.get("text") or element.get("url", ""))
        if element.get("type") in ("user", "usergroup", "channel"):
            return "@" + clean_text(element.get("user_id") or element.get("channel_id") or "")
        return "".join(_rich_text(e) for e in element.get("elements") or [])
    return ""


def blocks_to_text(blocks: list[dict[str, Any]]) -> str:
    """A readable rendering of a Block Kit message for a terminal."""
    lines: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [title, "═" * min(max(len(title), 3), 70)]
        elif kind == "section":
            lines += _text(block.get("text")).splitlines()
            lines += [_text(field) for field in block.get("fields") or []]
        elif kind == "context":
            parts = []
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("type") == "image":
                    parts.append(f"[{clean_text(element.get('alt_text', 'image'))}]")
                else:
                    parts.append(_text(element))
            lines.append("  " + " · ".join(p for p in parts if p))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "markdown":
            lines += clean_text(block.get("text", "")).splitlines()
        elif kind == "image":
            lines.append(f"[image: {clean_text(block.get('alt_text', ''))}]")
        elif kind == "actions":
            labels = [
                _text(e.get("text")) for e in block.get("elements") or [] if isinstance(e, dict)
            ]
            lines.append("  " + " ".join(f"[ {label} ]" for label in labels if label))
        elif kind == "context_actions":
            labels = []
            for element in block.get("elements") or []:
                if not isinstance(element, dict):
                    continue
                for key in ("positive_button", "negative_button"):
                    labels.append(_text((element.get(key) or {}).get("text")))
                labels.append(_text(element.get("text")))
            lines.append("  " + " ".join(f"[ {label} ]" for label in labels if label))
        elif kind == "rich_text":
            lines += _rich_text(block).splitlines()
    return "\n".join(lines)
