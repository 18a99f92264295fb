"""The audit trail: one append-only record per answer, question and human decision.

Regulators ask "what did the bot say, on what evidence, and who acted on it". Every record is
redacted, canonical JSON in the `wizard:audit` stream (persisted by AOF) and carries the previous
record's SHA-256 and its own, so the trail is already a hash chain that `wizard audit verify`
(a later issue) can walk. Appends are serialised with WATCH on the head key, so two replicas
cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import redis.asyncio as redis
import structlog
from redis.exceptions import WatchError

from bot.redact import redact_obj
from bot.store import keys

log = structlog.get_logger(__name__)

GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> str:
    """Stable bytes for hashing: sorted keys, no spaces, Decimals and datetimes as strings."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()


class AuditLog:
    """Appends hash-chained records; reads them back for tests and exports."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one record of `kind`; returns it with `prev_hash`, `hash` and stream `id`."""
        record = redact_obj(
            json.loads(
                canonical({"kind": kind, "at": datetime.now(UTC).isoformat(), "v": 1, **fields})
            )
        )
        body = canonical(record)
        for _ in range(50):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(keys.AUDIT_HEAD)
                    prev = await pipe.get(keys.AUDIT_HEAD) or GENESIS
                    digest = chain_hash(prev, body)
                    pipe.multi()
                    pipe.xadd(keys.AUDIT_STREAM, {"record": body, "prev": prev, "hash": digest})
                    pipe.set(keys.AUDIT_HEAD, digest)
                    stream_id, _ = await pipe.execute()
                except WatchError:
                    continue
            log.info("audit_appended", kind=kind, audit_id=stream_id, hash=digest[:16])
            return {**record, "prev_hash": prev, "hash": digest, "id": stream_id}
        raise RuntimeError("audit append kept conflicting; the head key is hot")

    async def records(self, count: int | None = None) -> list[dict[str, Any]]:
        """All records (oldest first), each with its chain fields."""
        entries = await self.redis.xrange(keys.AUDIT_STREAM, count=count)
        return [
            {**json.loads(f["record"]), "prev_hash": f["prev"], "hash": f["hash"], "id": entry_id}
            for entry_id, f in entries
        ]

    async def verify(self) -> tuple[int, str | None]:
        """Walk the chain; returns (records checked, id of the first broken record or None)."""
        prev = GENESIS
        checked = 0
        for entry_id, fields in await self.redis.xrange(keys.AUDIT_STREAM):
            if fields.get("prev") != prev or chain_hash(prev, fields["record"]) != fields["hash"]:
                return checked, entry_id
            prev = fields["hash"]
            checked += 1
        return checked, None


def money(value: Decimal) -> str:
    """Decimal dollars as a plain string, never a float."""
    return format(value.normalize(), "f") if value else "0"
