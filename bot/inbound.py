"""Inbound request validation, in front of Bolt and the hooks: bad input is a 4xx with a reason.

Bolt parses a Slack body and digs into it before (and after) it checks the signature, and its
middleware and our listeners assume Slack's shapes: a non-numeric `X-Slack-Request-Timestamp`, a
body nested 500 levels deep, a lone `\\ud800`, `actions` that is not a list or a payload without
`type` each used to end as a 500 with a traceback. Here every such request is refused before
anything parses it further:

- the body is read within `BODY_READ_S` (a client trickling bytes — slowloris — gets 408) and
  at most `MAX_BODY` bytes (413, from the Content-Length or while reading);
- it must be UTF-8, JSON nested at most `MAX_DEPTH` deep (checked on the raw text, before
  `json.loads` could hit Python's recursion limit) and free of lone surrogates;
- a Slack body must be a JSON object or form data whose `payload` is one, with the fields Bolt
  and the listeners dereference having Slack's types (`SHAPES`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

MAX_BODY = 4 * 1024 * 1024
MAX_DEPTH = 64
BODY_READ_S = 10.0

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A `\\uD800`–`\\uDFFF` escape: the only way JSON text that is valid UTF-8 can hold a surrogate."""

Kinds = type | tuple[type, ...]
NONE = type(None)
SHAPES: dict[str, dict[str, Kinds]] = {
    "": {
        "type": str,
        "team_id": str,
        "enterprise_id": (str, NONE),
        "api_app_id": str,
        "event": dict,
        "event_id": str,
        "authorizations": list,
        "actions": list,
        "user": dict,
        "team": (dict, NONE),
        "enterprise": (dict, NONE),
        "channel": (dict, NONE),
        "container": dict,
        "message": dict,
        "view": dict,
        "response_url": str,
        "trigger_id": str,
        "callback_id": str,
        "command": str,
        "text": str,
        "channel_id": str,
        "user_id": str,
        "challenge": str,
    },
    "event": {
        "type": str,
        "subtype": (str, NONE),
        "channel": (str, dict),
        "user": (str, dict),
        "ts": str,
        "thread_ts": str,
        "event_ts": str,
        "text": str,
        "bot_id": (str, NONE),
        "message": dict,
        "previous_message": dict,
        "attachments": list,
        "blocks": list,
    },
    "user": {"id": str, "team_id": str},
    "team": {"id": str},
    "enterprise": {"id": str},
    "channel": {"id": str},
    "container": {"type": str, "channel_id": str, "message_ts": str},
    "view": {"type": str, "id": str, "callback_id": str, "state": dict, "private_metadata": str},
    "message": {"ts": str, "thread_ts": str, "text": str},
}
ITEMS: dict[str, dict[str, Kinds]] = {
    "actions": {"type": str, "action_id": str, "block_id": str, "value": str, "action_ts": str},
    "authorizations": {"team_id": (str, NONE), "enterprise_id": (str, NONE), "user_id": str},
}
REQUIRED_TYPE = {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}


class Rejected(Exception):
    """A request refused before any handler saw it; `status` is the 4xx to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> web.Response:
        return web.json_response({"ok": False, "error": self.reason}, status=self.status)


async def read_body(
    request: web.Request, max_bytes: int = MAX_BODY, timeout_s: float | None = None
) -> bytes:
    """The whole body, bounded in size and in the time the client may take to send it."""
    timeout_s = BODY_READ_S if timeout_s is None else timeout_s
    if request.content_length is not None and request.content_length > max_bytes:
        raise Rejected(413, f"body larger than {max_bytes} bytes")
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise Rejected(408, f"body not received within {timeout_s:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise Rejected(413, f"body larger than {max_bytes} bytes") from None


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON `text`, without parsing it (strings skipped)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_lone_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise Rejected(400, "text contains a lone UTF-16 surrogate") from None
        elif isinstance(item, dict):
            stack += list(item.keys()) + list(item.values())
        elif isinstance(item, list):
            stack += item


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not valid UTF-8") from None


def parse_json(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text to a value, refusing deep nesting and lone surrogates with a 400."""
    if json_depth(text) > max_depth:
        raise Rejected(400, f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Rejected(400, "body is not valid JSON") from None
    if _SURROGATE_ESCAPE.search(text):  # the walk costs more than the rest of an ack's checks
        _no_lone_surrogates(value)
    return value


def _check_shape(value: Mapping[str, Any], spec: str, where: str) -> None:
    for key, kinds in SHAPES[spec].items():
        if key in value and not isinstance(value[key], kinds):
            raise Rejected(400, f"{where}{key} has the wrong type")
        if key in value and isinstance(value[key], dict) and key in SHAPES and spec == "":
            _check_shape(value[key], key, f"{where}{key}.")
        if key in ITEMS and isinstance(value.get(key), list):
            for item in value[key]:
                if not isinstance(item, dict):
                    raise Rejected(400, f"{where}{key} items must be objects")
                for field, field_kinds in ITEMS[key].items():
                    if field in item and not isinstance(item[field], field_kinds):
                        raise Rejected(400, f"{where}{key}[].{field} has the wrong type")


def slack_body(headers: Mapping[str, str], body: bytes) -> None:
    """Refuse a Slack request Bolt or the listeners could not handle (before Bolt sees it)."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    if timestamp is not None and not _TIMESTAMP.match(timestamp):
        raise Rejected(400, "X-Slack-Request-Timestamp must be a Unix time in seconds")
    text = decode(body)
    content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/json" or (not content_type and text.lstrip()[:1] == "{"):
        value = parse_json(text)
    else:
        try:
            form = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except (UnicodeDecodeError, ValueError):
            raise Rejected(400, "form body is not valid UTF-8 form data") from None
        _no_lone_surrogates(form)
        if "payload" not in form:
            if text and not form:
                raise Rejected(400, "body is neither JSON nor form data")
            return
        value = parse_json(form["payload"])
        if not isinstance(value, dict):
            raise Rejected(400, "payload must be a JSON object")
        if not isinstance(value.get("type"), str):
            raise Rejected(400, "payload has no type")
    if not isinstance(value, dict):
        raise Rejected(400, "body must be a JSON object")
    _check_shape(value, "", "")
    if value.get("type") == "event_callback" and not isinstance(value.get("event"), dict):
        raise Rejected(400, "event_callback without an event object")
    if value.get("type") in REQUIRED_TYPE and not isinstance(value.get("user"), dict):
        raise Rejected(400, f"{value['type']} without a user object")
    actions = value.get("actions")
    if value.get("type") == "block_actions" and not (
        isinstance(actions, list)
        and actions
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        raise Rejected(400, "block_actions needs actions, each with an action_id")
    view = value.get("view")
    if value.get("type") in ("view_submission", "view_closed") and not isinstance(view, dict):
        raise Rejected(400, f"{value['type']} without a view object")
    if isinstance(view, dict) and not isinstance(view.get("type"), str):
        raise Rejected(400, "view has no type")


def hook_json(body: bytes) -> Any:
    """A hook body: UTF-8 JSON, nesting bounded, no lone surrogates."""
    return parse_json(decode(body))
