"""The audit trail: one append-only record per answer, question and human decision.

Regulators ask "what did the bot say, on what evidence, and who acted on it". Every record is
redacted, canonical JSON in the `wizard:audit` stream (persisted by AOF) and carries the previous
record's SHA-256 and its own, so the trail is a hash chain that `wizard audit verify` walks.
Appends are serialised with WATCH on the head key, so two replicas cannot fork the chain.

With a mirror directory each record is also appended to a monthly JSONL file (`bot/audit/mirror.py`)
after Redis accepted it: Redis stays the source of truth (a Redis failure raises, nothing is
written), while a failed file write is logged and left for `wizard audit verify --source both` to
report, because refusing to answer an incident over a full disk would be worse. An in-process lock
spans both writes so the file holds records in chain order.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis.asyncio as redis
import structlog
from redis.exceptions import WatchError

from bot.audit import anchor, mirror
from bot.audit.chain import CHAIN_FIELDS, GENESIS, canonical, chain_hash
from bot.audit.verify import Entry, walk
from bot.redact import redact_obj
from bot.store import keys
from bot.store.typed import fields as redis_fields
from bot.store.typed import stream_entries, text_or_none

log = structlog.get_logger(__name__)

ONCE_TTL_S = 30 * 24 * 3600
"""How long "this job's record of this kind exists" is remembered (reclaims happen in minutes)."""


class AuditLog:
    """Appends hash-chained records (and mirrors them to a file); reads and verifies them."""

    def __init__(
        self,
        client: redis.Redis,
        mirror_dir: Path | None = None,
        *,
        key: bytes | None = None,
        checkpoints: Path | None = None,
    ) -> None:
        self.redis = client
        self.mirror_dir = mirror_dir
        self._lock = asyncio.Lock()
        self._checked_files: set[Path] = set()
        self.key = key
        self.checkpoints = checkpoints
        self._last_checkpoint = 0.0

    async def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one record of `kind`; returns it with `prev_hash`, `hash` and stream `id`."""
        result = await self._append(kind, None, fields)
        assert result is not None
        return result

    async def append_once(self, once_key: str, kind: str, **fields: Any) -> dict[str, Any] | None:
        """Append unless a record was already appended under `once_key` (None then).

        The check and the append are one Redis transaction (the key is WATCHed with the chain
        head), so two runs of the same job — a lease lost in a Redis outage, or a retried EXEC —
        still leave exactly one record.
        """
        return await self._append(kind, once_key, fields)

    async def _append(
        self, kind: str, once_key: str | None, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        reserved = CHAIN_FIELDS.intersection(fields)
        if reserved:
            raise ValueError(f"audit fields {sorted(reserved)} are reserved for the chain")
        async with self._lock:
            now = datetime.now(UTC)
            record = redact_obj(
                json.loads(canonical({"kind": kind, "at": now.isoformat(), "v": 1, **fields})),
                thorough=True,
            )
            result = await self._append_redis(record, once_key)
            if result is None:
                log.info("audit_already_appended", kind=kind, once_key=once_key)
                return None
            if self.mirror_dir is not None:
                await self._mirror(result, now)
            await self._checkpoint(result["hash"])
        log.info("audit_appended", kind=kind, audit_id=result["id"], hash=result["hash"][:16])
        return result

    async def _append_redis(
        self, record: dict[str, Any], once_key: str | None = None
    ) -> dict[str, Any] | None:
        body = canonical(record)
        for _ in range(50):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(keys.AUDIT_HEAD, *([once_key] if once_key else []))
                    if once_key and await pipe.exists(once_key):
                        return None
                    prev = text_or_none(await pipe.get(keys.AUDIT_HEAD)) or GENESIS
                    digest = chain_hash(prev, body, self.key)
                    link = {"record": body, "prev": prev, "hash": digest}
                    if self.key is not None:
                        link["alg"] = anchor.HMAC_ALG
                        link["kid"] = anchor.kid(self.key)
                    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                    pipe.xadd(keys.AUDIT_STREAM, redis_fields(link))
                    pipe.set(keys.AUDIT_HEAD, digest)
                    if once_key:
                        pipe.set(once_key, digest, ex=ONCE_TTL_S)
                    stream_id, *_ = await pipe.execute()
                except WatchError:
                    continue
            chain = {"prev_hash": prev, "hash": digest, "id": stream_id}
            marks: dict[str, Any] = {k: link[k] for k in ("alg", "kid") if k in link}
            return {**record, **chain, **marks}
        raise RuntimeError("audit append kept conflicting; the head key is hot")

    async def _mirror(self, record: dict[str, Any], now: datetime) -> None:
        """Write the file copy off the event loop; a failure is logged, never raised."""
        assert self.mirror_dir is not None
        path = mirror.file_for(self.mirror_dir, now)
        try:
            await asyncio.to_thread(
                mirror.append_line, path, canonical(record), checked=self._checked_files
            )
        except OSError as exc:
            log.error(
                "audit_mirror_failed",
                path=str(path),
                audit_id=record["id"],
                hash=record["hash"],
                error=str(exc),
            )

    async def _checkpoint(self, head: str) -> None:
        """Every `CHECKPOINT_EVERY` records (and the first, and after `CHECKPOINT_EVERY_S`):
        head + count, signed, to the checkpoint file and the log. Failures are logged: a full
        disk must not stop answers (verify reports the gap)."""
        if self.key is None or self.checkpoints is None:
            return
        count = int(await self.redis.xlen(keys.AUDIT_STREAM))
        now = asyncio.get_running_loop().time()
        due = count == 1 or count % anchor.CHECKPOINT_EVERY == 0
        if not due and now - self._last_checkpoint < anchor.CHECKPOINT_EVERY_S:
            return
        self._last_checkpoint = now
        line = anchor.checkpoint_line(self.key, head, count)
        try:
            await asyncio.to_thread(
                mirror.append_line, self.checkpoints, canonical(line), checked=self._checked_files
            )
        except OSError as exc:
            log.error("audit_checkpoint_failed", path=str(self.checkpoints), error=str(exc))
        log.warning("audit_checkpoint", **line)

    async def head(self) -> str | None:
        """The hash of the last record, as Redis remembers it."""
        value = await self.redis.get(keys.AUDIT_HEAD)
        return str(value) if value is not None else None

    async def records(self, count: int | None = None) -> list[dict[str, Any]]:
        """All records (oldest first), each with its chain fields."""
        entries = stream_entries(await self.redis.xrange(keys.AUDIT_STREAM, count=count))
        return [
            {**json.loads(f["record"]), "prev_hash": f["prev"], "hash": f["hash"], "id": entry_id}
            | {k: f[k] for k in ("alg", "kid") if k in f}
            for entry_id, f in entries
        ]

    async def verify(self) -> tuple[int, str | None]:
        """Walk the Redis chain: (records checked, id of the first broken record or None)."""
        stream = stream_entries(await self.redis.xrange(keys.AUDIT_STREAM))
        entries = [Entry.from_stream(i, f) for i, f in stream]
        checked, found = walk(entries, head=await self.head() or GENESIS, key=self.key)
        return checked, (found["id"] or "") if found else None


def money(value: Decimal) -> str:
    """Decimal dollars as a plain string, never a float."""
    return format(value.normalize(), "f") if value else "0"
