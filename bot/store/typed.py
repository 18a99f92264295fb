"""Typed views of redis-py replies, narrowed once at the store boundary.

The client is built with `decode_responses=True` (bot/store/connection.py), so every reply is a
`str`; redis-py's annotations say `bytes | str` (or `Any`) because they cannot know how the client
was built. These helpers narrow a reply to what it really is, so the stores stay typed under
`mypy --strict` without a cast at every call. A `bytes` reply (a client built without decoding)
is decoded rather than passed on silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

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
