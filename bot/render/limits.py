"""Block builders and Slack's limits, enforced in one place: `fit_blocks`.

Slack refuses a message that breaks a limit, and mid-incident a refused answer is a lost answer.
So every message passes `fit_blocks`: ≤ 50 blocks, ≤ 3000 characters per section, ≤ 150 per
header, ≤ 2000 per context element and ≤ 10 elements, ≤ 10 section fields, no empty texts.
Slack also rejects messages whose blocks hold more than roughly 12k characters in total
(`msg_blocks_too_long`, undocumented; see slackapi/bolt-js#2509 and #2867), so the total is
budgeted too. Long parts are split at line boundaries; what still does not fit is cut with a
visible "…truncated" note. The local Slack (`bot/devtools/slack/`) checks the result with
slack-sdk's own validators. `visible_chars` measures what a reader sees, for the first-screen
budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.render.mrkdwn import PLAIN_MASS_MENTION, cut, split, visible
from bot.text import clean_text

Block = dict[str, Any]
Blocks = list[Block]
Message = tuple[Blocks, str]
"""A message as the bot posts it: blocks and the plain notification text."""

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_CONTEXT_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK = 3000
MAX_TOTAL_TEXT = 10_000
"""Slack's undocumented cumulative limit is ~12k characters of block text; stay below it."""

NONE = "_none_"
TRUNCATION_HINT = "see the audit record / `wizard triage` output"


def header(text: str) -> Block:
    """A header block: one line of plain text.

    Slack does not parse markup in plain_text, but the header carries alert names verbatim, so
    `<`/`>` become look-alike angle quotes anyway: no client can ever read them as a mention.
    """
    plain = " ".join(PLAIN_MASS_MENTION.sub("＠", clean_text(text)).split())
    plain = plain or "Infrastructure Wizard"
    plain = plain.replace("<", "‹").replace(">", "›")
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": cut(plain, MAX_HEADER, markup=False), "emoji": True},
    }


def section(mrkdwn: str) -> Block:
    """A mrkdwn section; the caller escapes untrusted parts, `fit_blocks` enforces the limits."""
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": mrkdwn if mrkdwn.strip() else NONE},
    }


def context(*texts: str) -> Block:
    """A context block of mrkdwn elements; blank texts are skipped."""
    elements = [{"type": "mrkdwn", "text": t} for t in texts if t and t.strip()]
    return {"type": "context", "elements": elements}


def divider() -> Block:
    return {"type": "divider"}


def notification(*parts: str) -> str:
    """The notification text (push, screen readers): short, escaped by the caller, never empty."""
    text = "\n".join(p for p in parts if p and p.strip()) or "Infrastructure Wizard"
    return cut(text, MAX_FALLBACK)


# --------------------------------------------------------------------------- measuring


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return str(obj["text"])
    return ""


def block_chars(block: Block) -> int:
    """Characters of text a block carries, as counted against Slack's cumulative budget."""
    kind = block.get("type")
    if kind in ("section", "header"):
        return len(_text_of(block.get("text"))) + sum(
            len(_text_of(f)) for f in block.get("fields") or []
        )
    if kind in ("context", "markdown"):
        if kind == "markdown":
            return len(str(block.get("text") or ""))
        return sum(len(_text_of(e)) for e in block.get("elements") or [])
    return 0


def visible_chars(blocks: Sequence[Block]) -> int:
    """Characters a reader sees: texts with link markup reduced to labels, entities decoded,
    button labels included (what "reads in ten seconds" is measured on)."""
    total = 0
    for block in blocks:
        kind = block.get("type")
        texts: list[str] = []
        if kind in ("section", "header"):
            texts.append(_text_of(block.get("text")))
            texts += [_text_of(f) for f in block.get("fields") or []]
        elif kind == "context":
            texts += [_text_of(e) for e in block.get("elements") or []]
        elif kind == "markdown":
            texts.append(str(block.get("text") or ""))
        elif kind in ("actions", "context_actions"):
            for element in block.get("elements") or []:
                texts.append(_text_of(element.get("text")))
                for key in ("positive_button", "negative_button"):
                    texts.append(_text_of((element.get(key) or {}).get("text")))
        total += sum(len(visible(t)) for t in texts)
    return total


def _block_lines(block: Block) -> int:
    """How many lines of content a block holds, for the "…truncated: N more lines" note."""
    kind = block.get("type")
    if kind in ("section", "header"):
        text = _text_of(block.get("text"))
        lines = len([line for line in text.split("\n") if line.strip()])
        return lines + len(block.get("fields") or [])
    if kind == "context":
        return 1
    return 0


# --------------------------------------------------------------------------- fitting


def _normalize_section(block: Block) -> Blocks:
    out: Blocks = []
    text_obj = block.get("text")
    if isinstance(text_obj, dict):
        text = _text_of(text_obj)
        if text_obj.get("type") == "plain_text":
            chunks = [cut(text, MAX_SECTION, markup=False)] if text.strip() else []
            out += [{"type": "section", "text": {**text_obj, "text": c}} for c in chunks]
        else:
            out += [section(chunk) for chunk in split(text, MAX_SECTION)]
    fields = [
        {**f, "text": cut(_text_of(f), MAX_FIELD)}
        for f in block.get("fields") or []
        if isinstance(f, dict) and _text_of(f).strip()
    ]
    for start in range(0, len(fields), MAX_FIELDS):
        out.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
    if not out:
        out.append(section(NONE))
    extra = {k: v for k, v in block.items() if k not in ("type", "text", "fields", "block_id")}
    if extra:
        out[0] = {**out[0], **extra}
    return out


def _normalize(block: Block) -> Blocks:
    """One block made valid on its own: split, cut or dropped (never an empty text)."""
    kind = block.get("type")
    if kind == "header":
        return [header(_text_of(block.get("text")))]
    if kind == "section":
        return _normalize_section(block)
    if kind == "context":
        elements = []
        for element in block.get("elements") or []:
            if not isinstance(element, dict):
                continue
            if element.get("type") in ("mrkdwn", "plain_text"):
                text = _text_of(element)
                if not text.strip():
                    continue
                element = {**element, "text": cut(text, MAX_CONTEXT_TEXT)}
            elements.append(element)
        return [
            {"type": "context", "elements": elements[start : start + MAX_CONTEXT_ELEMENTS]}
            for start in range(0, len(elements), MAX_CONTEXT_ELEMENTS)
        ]
    return [block]


def _take_lines(text: str, budget: int) -> tuple[str, int]:
    """The leading whole lines of `text` that fit in `budget` characters, and lines left over."""
    lines = text.split("\n")
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = len(line) + (1 if kept else 0)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    left = len([line for line in lines[len(kept) :] if line.strip()])
    return "\n".join(kept), left


def truncation_note(lines: int) -> Block:
    plural = "" if lines == 1 else "s"
    return context(f"…truncated: {lines} more line{plural}, {TRUNCATION_HINT}")


def fit_blocks(
    blocks: Sequence[Block],
    *,
    keep_last: int = 0,
    max_blocks: int = MAX_BLOCKS,
    max_chars: int = MAX_TOTAL_TEXT,
) -> Blocks:
    """Enforce Slack's limits on a message: the one place they live.

    Every block is normalized (sections split at line boundaries, headers/contexts cut, empty
    texts replaced or dropped). If the message then has more than `max_blocks` blocks or more
    than `max_chars` characters of text, the body is cut at a line boundary and a final context
    block says how many lines were left out. The last `keep_last` input blocks (the footer with
    model and cost, the buttons) are kept whatever happens, just before that note.
    """
    keep_last = max(0, min(keep_last, len(blocks)))
    split_at = len(blocks) - keep_last
    body = [out for block in blocks[:split_at] for out in _normalize(block)]
    tail = [out for block in blocks[split_at:] for out in _normalize(block)]
    total = sum(block_chars(b) for b in body) + sum(block_chars(b) for b in tail)
    if len(body) + len(tail) <= max_blocks and total <= max_chars:
        return body + tail

    note_reserve = len(truncation_note(10**9)["elements"][0]["text"])
    room_blocks = max_blocks - len(tail) - 1
    room_chars = max_chars - sum(block_chars(b) for b in tail) - note_reserve
    if room_blocks < 1 or room_chars < 1:  # a tail that alone breaks the limits is body too
        body, tail = body + tail, []
        room_blocks, room_chars = max_blocks - 1, max_chars - note_reserve

    kept: Blocks = []
    used = 0
    index = 0
    while index < len(body):
        cost = block_chars(body[index])
        if len(kept) >= room_blocks or used + cost > room_chars:
            break
        kept.append(body[index])
        used += cost
        index += 1
    dropped_lines = sum(_block_lines(b) for b in body[index:])
    if index < len(body) and len(kept) < room_blocks:
        # Keep the leading lines of the first block that does not fit whole.
        block = body[index]
        text_obj = block.get("text")
        if block.get("type") == "section" and isinstance(text_obj, dict):
            head, left = _take_lines(_text_of(text_obj), room_chars - used)
            if head.strip() and not block.get("fields"):
                kept.append({**block, "text": {**text_obj, "text": head}})
                dropped_lines -= _block_lines(block) - left
    while kept and kept[-1].get("type") == "divider":
        kept.pop()
    return [*kept, *tail, truncation_note(max(dropped_lines, 1))]
