"""The audit trail's hash chain: how one record's bytes and hash are made.

One home for the chain rule, used both by the writer (bot/audit/log.py) and by the verifier
(bot/audit/verify.py), which therefore no longer import each other. Each record's hash covers
the previous record's hash and its own canonical body; `GENESIS` is the "previous hash" of the
first record. Keyed links (an HMAC under the audit key) are made here too, so writer and
verifier follow one rule.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

GENESIS = "0" * 64
CHAIN_FIELDS = frozenset({"prev_hash", "hash", "id", "alg", "kid"})
"""Added to every record read back; a caller's field of the same name would be ambiguous."""


def canonical(record: dict[str, Any]) -> str:
    """Stable bytes for hashing: sorted keys, no spaces, Decimals and datetimes as strings."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, body: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 under the audit key (`bot/audit/anchor.py`); plain SHA-256 for legacy links."""
    data = (prev_hash + "\n" + body).encode()
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()
