"""Typed views of redis-py replies, narrowed once at the store boundary.

The client is built with `decode_responses=True` (bot/store/connection.py), so every reply is a
`str`; redis-py's annotations say `bytes | str` (or `Any`) because they cannot know how the client
was built. These helpers narrow a reply to what it really is, so the stores stay typed under
`mypy --strict` without a cast at every call. A `bytes` reply (a client built without decoding)
is decoded rather than passed on silently.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import BaseModel
from redis.typing import EncodableT, FieldT


def text(value: Any) -> str:
    """One string reply (a GET, HGET, a stream id…)."""
    if isinstance(value, bytes):
        return value.decode()
    if not isinstance(value, str):
        raise TypeError(f"expected a string reply from Redis, got {type(value).__name__}")
    return value


def text_or_none(value: Any) -> str | None:
    """A reply that may be nil (GET of a missing key, HMGET of a missing field)."""
    return None if value is None else text(value)


def texts(values: Iterable[Any]) -> list[str]:
    """A list reply of strings (LRANGE, ZRANGE without scores, SMEMBERS…)."""
    return [text(v) for v in values]


def text_map(value: Any) -> dict[str, str]:
    """A hash reply (HGETALL, a stream entry's fields)."""
    if value is None:
        return {}
    return {text(k): text(v) for k, v in cast(Mapping[Any, Any], value).items()}


def fields(mapping: Mapping[str, EncodableT]) -> dict[FieldT, EncodableT]:
    """A `str`-keyed mapping as redis-py's HSET/XADD parameter type (its key type is invariant)."""
    return dict[FieldT, EncodableT](mapping.items())


def stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XRANGE/XREVRANGE reply, or of one stream in an XREAD/XREADGROUP reply."""
    return [(text(entry_id), text_map(values)) for entry_id, values in reply or []]


def first_stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of the (only) stream in an XREAD/XREADGROUP reply (`[[name, entries]]`, the
    RESP2 shape our client speaks), or none when the blocking read timed out (nil)."""
    return stream_entries(reply[0][1]) if reply else []


class ParseCache[M: BaseModel]:
    """Models parsed from stored JSON, kept by the exact JSON they came from (bounded, LRU).

    Matching reads every open incident of an alert name (up to 200) and their alerts' records
    for each Slack post; validating them again and again was most of a post's CPU. The same JSON
    always parses to an equal model, so a hit is exact. What it returns is shared: read-only
    callers only (matching); code that changes a model parses its own copy.
    """

    def __init__(self, model: type[M], size: int = 1024) -> None:
        self.model = model
        self.size = size
        self._parsed: OrderedDict[str, M] = OrderedDict()

    def parse(self, raw: str | bytes) -> M:
        key = raw.decode() if isinstance(raw, bytes) else raw
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = self.model.model_validate_json(key)
            self._parsed[key] = parsed
            if len(self._parsed) > self.size:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(key)
        return parsed
