"""Anchoring the audit chain: a secret key in every link, and signed checkpoints outside Redis.

A plain SHA-256 chain proves order, not authorship: whoever can write Redis and the file copy
can rewrite a record and recompute every hash after it, and `verify` passes. Two anchors stop
that:

- each link is an HMAC-SHA256 under `WIZARD_AUDIT_KEY` (a secret the data stores never see), so a
  rewritten record cannot be re-chained without the key;
- every `CHECKPOINT_EVERY` records (and on the first, and after `CHECKPOINT_EVERY_S`) the head
  hash and record count are written, HMAC-signed, to `checkpoints.jsonl` outside Redis and
  logged as `audit_checkpoint` (ship the logs or the file to WORM storage): cutting records
  off the end, or swapping the whole chain, no longer matches a checkpoint.

Records written before a key existed carry no `alg` and verify as plain SHA-256, but only as a
prefix: an unkeyed record after a keyed one is reported. Key rotation: see README "Audit".
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HMAC_ALG = "hmac-sha256"
CHECKPOINT_FILE = "checkpoints.jsonl"
CHECKPOINT_EVERY = 100
CHECKPOINT_EVERY_S = 60.0
KEY_FILE = "audit.key"


Keys = bytes | Mapping[str, bytes] | None
"""The current key, or a keyring `kid -> key` (current and retired keys), or none."""


def kid(key: bytes) -> str:
    """A key's public id, stored with each link so verify picks the right key after rotation."""
    return hmac.new(key, b"wizard audit key id", hashlib.sha256).hexdigest()[:12]


def ring(keys: Keys) -> dict[str, bytes]:
    if keys is None:
        return {}
    if isinstance(keys, bytes):
        return {kid(keys): keys}
    return dict(keys)


def keyring(current: bytes, retired: Sequence[bytes] = ()) -> dict[str, bytes]:
    return {kid(k): k for k in (current, *retired)}


def audit_key(secret: str | None) -> bytes | None:
    return hashlib.sha256(b"wizard audit\x1f" + secret.encode()).digest() if secret else None


def key_for(secret: str | None, data_dir: Path) -> bytes:
    """`WIZARD_AUDIT_KEY`, else a random key in `<data dir>/audit.key` (0600): that still
    anchors against a Redis-only rewrite, not against someone who can read the data dir."""
    from bot.context.pseudonyms import local_secret

    chosen = secret or local_secret(data_dir, KEY_FILE, "WIZARD_AUDIT_KEY")
    key = audit_key(chosen)
    assert key is not None
    return key


def checkpoints_path(data_dir: Path) -> Path:
    return data_dir / "audit" / CHECKPOINT_FILE


def _checkpoint_mac(key: bytes, count: int, head: str, at: str) -> str:
    return hmac.new(key, f"checkpoint\n{count}\n{head}\n{at}".encode(), hashlib.sha256).hexdigest()


def checkpoint_line(key: bytes, head: str, count: int) -> dict[str, Any]:
    at = datetime.now(UTC).isoformat()
    mac = _checkpoint_mac(key, count, head, at)
    return {"count": count, "head": head, "at": at, "kid": kid(key), "mac": mac}


def read_checkpoints(path: Path) -> list[dict[str, Any]]:
    """Every parsable checkpoint line (a torn last line is skipped)."""
    if not path.is_file():
        return []
    found: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


@dataclass(frozen=True)
class Linked:
    """What the checkpoint check needs of an entry: its hash and whether it is keyed."""

    hash: str
    keyed: bool


def check_checkpoints(
    entries: Sequence[Linked], checkpoints: Sequence[dict[str, Any]], keys: Keys
) -> dict[str, Any] | None:
    """The first checkpoint the chain contradicts, or None. Without a key nothing is checked."""
    known = ring(keys)
    if not known:
        return None
    if not checkpoints:
        # a keyed deployment writes one on its first append: none at all means they were removed
        return {"reason": "checkpoints_missing", "records": len(entries)} if entries else None
    for point in checkpoints:
        try:
            count, head, at = int(point["count"]), str(point["head"]), str(point["at"])
            mac = str(point["mac"])
        except (KeyError, TypeError, ValueError):
            return {"reason": "checkpoint_unreadable", "checkpoint": point}
        key = known.get(str(point.get("kid", "")))
        if key is None or not hmac.compare_digest(mac, _checkpoint_mac(key, count, head, at)):
            return {"reason": "checkpoint_forged", "count": count, "at": at}
        if count > len(entries):
            return {"reason": "records_cut", "count": count, "records": len(entries), "at": at}
        if entries[count - 1].hash != head:
            return {"reason": "checkpoint_mismatch", "count": count, "head": head, "at": at}
    return None
