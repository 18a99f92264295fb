"""The audit trail's hash chain: how one record's bytes and hash are made.

One home for the chain rule, used both by the writer (bot/audit/log.py) and by the verifier
(bot/audit/verify.py), which therefore no longer import each other. Each record's hash covers
the previous record's hash and its own canonical body; `GENESIS` is the "previous hash" of the
first record. To key the chain (an HMAC instead of a bare SHA-256), change `chain_hash` here:
writer and verifier follow together.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
CHAIN_FIELDS = frozenset({"prev_hash", "hash", "id"})
"""Added to every record read back; a caller's field of the same name would be ambiguous."""


def canonical(record: dict[str, Any]) -> str:
    """Stable bytes for hashing: sorted keys, no spaces, Decimals and datetimes as strings."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()
