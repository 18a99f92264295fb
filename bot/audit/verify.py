"""Walking the hash chain, and comparing the Redis copy with the file copy.

Each record's hash covers the previous record's hash and its own canonical body, so walking the
records in stored order finds an edited record (its hash no longer matches), a deleted one (the
next record points at a hash that is not there) and a moved one (it points at a hash that comes
later). The head key catches records cut from the end. Comparing the two copies by hash finds a
record present in one and missing from the other, which a chain walk alone cannot see when the
same record was removed cleanly from the end of one copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.audit import anchor
from bot.audit.chain import CHAIN_FIELDS, GENESIS, canonical, chain_hash


@dataclass(frozen=True)
class Entry:
    """One stored record: its stream id, chain fields and the exact body that was hashed."""

    id: str
    prev_hash: str
    hash: str
    body: str
    alg: str = ""
    """`hmac-sha256` for keyed links; empty for legacy plain SHA-256 ones."""
    kid: str = ""
    """Which audit key made a keyed link (`bot/audit/anchor.kid`)."""

    @classmethod
    def from_stream(cls, entry_id: str, fields: dict[str, str]) -> Entry:
        return cls(
            entry_id,
            fields.get("prev", ""),
            fields.get("hash", ""),
            fields.get("record", ""),
            fields.get("alg", ""),
            fields.get("kid", ""),
        )

    @classmethod
    def from_line(cls, record: dict[str, Any]) -> Entry:
        body = {k: v for k, v in record.items() if k not in CHAIN_FIELDS}
        return cls(
            str(record.get("id", "")),
            str(record.get("prev_hash", "")),
            str(record.get("hash", "")),
            canonical(body),
            str(record.get("alg", "")),
            str(record.get("kid", "")),
        )


def problem(entry: Entry | None, reason: str, **extra: Any) -> dict[str, Any]:
    """The JSON an operator sees for the first thing wrong."""
    where = {"id": entry.id, "hash": entry.hash} if entry else {"id": None, "hash": None}
    return {**where, "reason": reason, **extra}


def walk(
    entries: list[Entry], head: str | None = None, key: anchor.Keys = None
) -> tuple[int, dict[str, Any] | None]:
    """Check the chain in stored order; returns (records intact, first problem or None).

    `head` is the hash the last record must carry (Redis's head key, GENESIS when the key is
    gone); None skips that check, as for the file copy, which has no head of its own.
    """
    later = {e.hash for e in entries}
    prev = GENESIS
    keyed_seen = False
    known = anchor.ring(key)
    for checked, entry in enumerate(entries):
        later.discard(entry.hash)
        link_key = None
        if entry.alg:
            link_key = known.get(entry.kid)
            if link_key is None:
                return checked, problem(entry, "key_needed", kid=entry.kid)
            keyed_seen = True
        elif keyed_seen:
            return checked, problem(entry, "unkeyed_after_keyed")
        if chain_hash(entry.prev_hash, entry.body, link_key) != entry.hash:
            return checked, problem(entry, "modified")
        if entry.prev_hash != prev:
            if entry.prev_hash in later:
                return checked, problem(entry, "reordered")
            return checked, problem(entry, "missing_before", expected_prev_hash=prev)
        prev = entry.hash
    if head is not None and head != prev:
        last = entries[-1] if entries else None
        reason = "head_missing" if head == GENESIS else "missing_after"
        return len(entries), problem(last, reason, head=head)
    return len(entries), None


def compare(redis_entries: Iterable[Entry], file_entries: Iterable[Entry]) -> dict[str, Any] | None:
    """The first record (in Redis order, then file order) that only one copy holds."""
    in_file = {e.hash: e for e in file_entries}
    in_redis = {e.hash: e for e in redis_entries}
    for entry in in_redis.values():
        twin = in_file.get(entry.hash)
        if twin is None:
            return problem(entry, "missing_in_file")
        if twin.id != entry.id or twin.body != entry.body:
            return problem(entry, "copies_differ")
    for entry in in_file.values():
        if entry.hash not in in_redis:
            return problem(entry, "missing_in_redis")
    return None
