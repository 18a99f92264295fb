"""Block Kit checks the local Slack applies to every message, the way the real Slack refuses them.

The bot's own limit fitting (`bot/render/limits.py`) is tested against this, not against itself:
each block is parsed with slack-sdk's Block Kit models and validated with their validators
(text lengths, element counts, required fields), and the message-level limits Slack enforces on
top are checked here: ≤ 50 blocks, a non-empty `text` or `blocks`, block text within Slack's
cumulative budget (`msg_blocks_too_long`), and a well-formed `metadata` object.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_BLOCKS_TEXT = 12_000
"""Slack's undocumented cumulative limit on block text (slackapi/bolt-js#2509, #2867)."""
MAX_MARKDOWN_CHUNK = 12_000
"""`markdown_text` of chat.startStream / appendStream / stopStream."""


class BlockKitError(Exception):
    """A message the real Slack would refuse: `error` is Slack's code, `details` its `errors`."""

    def __init__(self, error: str, details: list[str] | None = None) -> None:
        super().__init__(f"{error}: {'; '.join(details or [])}")
        self.error = error
        self.details = details or []


def _texts(obj: Any) -> list[str]:
    """Every `text` string inside a block (what counts towards the cumulative budget)."""
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found += _texts(value)
    elif isinstance(obj, list):
        for item in obj:
            found += _texts(item)
    return found


def check_blocks(blocks: Any) -> None:
    """Raise `BlockKitError` unless `blocks` is a list Slack accepts."""
    if blocks is None:
        return
    if not isinstance(blocks, list):
        raise BlockKitError("invalid_blocks_format", ["blocks must be a JSON array"])
    if len(blocks) > MAX_BLOCKS:
        raise BlockKitError("invalid_blocks", [f"no more than {MAX_BLOCKS} items allowed"])
    problems: list[str] = []
    for index, raw in enumerate(blocks):
        if not isinstance(raw, dict):
            problems.append(f"[{index}] must be an object")
            continue
        block = Block.parse(raw)
        if block is None:
            problems.append(f"[{index}] unknown block type {raw.get('type')!r}")
            continue
        try:
            block.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"[{index}] {raw.get('type')}: {exc}")
        for text in _texts(raw):
            if not text.strip() and raw.get("type") in ("section", "header", "context"):
                problems.append(f"[{index}] {raw.get('type')}: empty text")
    if problems:
        raise BlockKitError("invalid_blocks", problems)
    if sum(len(t) for t in _texts(blocks)) > MAX_BLOCKS_TEXT:
        raise BlockKitError("msg_blocks_too_long")


def check_message(text: Any, blocks: Any, metadata: Any = None) -> None:
    """Raise `BlockKitError` unless chat.postMessage / chat.update would accept the message."""
    if not text and not blocks:
        raise BlockKitError("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise BlockKitError("msg_too_long")
    check_blocks(blocks)
    check_metadata(metadata)


def check_metadata(metadata: Any) -> None:
    if metadata in (None, "", {}):
        return
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        raise BlockKitError("invalid_metadata_format")
    if not isinstance(metadata.get("event_payload", {}), dict):
        raise BlockKitError("invalid_metadata_schema")
    json.dumps(metadata)


def check_markdown(text: Any) -> None:
    """A streaming `markdown_text` chunk."""
    if text is not None and (not isinstance(text, str) or len(text) > MAX_MARKDOWN_CHUNK):
        raise BlockKitError("invalid_arguments", ["markdown_text must be ≤ 12,000 characters"])
