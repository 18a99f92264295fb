"""The audit chain anchored by a key and by signed checkpoints outside Redis.

The attack (issue 12): someone with write access to Redis and to the data dir edits a record and
re-chains both copies consistently with SHA-256; a plain chain then verifies. Here the same
rewrite, with and without the `alg` marker and with a guessed key, is caught; so is deleting
the checkpoints or cutting records off the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import redis.asyncio as redis

from bot.audit import anchor, mirror
from bot.audit.chain import GENESIS, canonical, chain_hash
from bot.audit.commands import verify_report
from bot.audit.log import AuditLog
from bot.store import keys

KEY = anchor.audit_key("audit-secret-for-tests")


async def _trail(redis_client: redis.Redis, tmp_path: Path, n: int = 5) -> AuditLog:
    audit = AuditLog(
        redis_client, tmp_path / "audit", key=KEY, checkpoints=tmp_path / "checkpoints.jsonl"
    )
    for i in range(n):
        await audit.append("decision", actor=f"U{i}", action="ack", incident_id=f"INC-{i}")
    return audit


async def _verify(redis_client: redis.Redis, tmp_path: Path) -> dict[str, object]:
    return await verify_report(
        redis_client,
        tmp_path / "audit",
        "both",
        key=KEY,
        checkpoints=tmp_path / "checkpoints.jsonl",
    )


async def _rewrite_both(
    redis_client: redis.Redis, tmp_path: Path, key: bytes | None, alg: str | None
) -> None:
    """What an attacker with both stores but not the key does: edit record 2, re-chain all."""
    audit = AuditLog(redis_client)
    records = await audit.records()
    records[2]["actor"] = "U-attacker"
    await redis_client.delete(keys.AUDIT_STREAM)
    prev, lines = GENESIS, []
    for record in records:
        body = {
            k: v for k, v in record.items() if k not in ("prev_hash", "hash", "id", "alg", "kid")
        }
        text = canonical(body)
        digest = chain_hash(prev, text, key)
        # a keyed rewrite reuses the real key id (it is public, in every stream entry)
        marks = {"alg": alg, "kid": record["kid"]} if alg else {}
        fields = {"record": text, "prev": prev, "hash": digest} | marks
        entry_id = await redis_client.xadd(keys.AUDIT_STREAM, fields)
        lines.append(
            canonical(
                {**body, "prev_hash": prev, "hash": digest, "id": entry_id}
                | ({"alg": alg} if alg else {})
            )
        )
        prev = digest
    await redis_client.set(keys.AUDIT_HEAD, prev)
    for path in (tmp_path / "audit").glob(mirror.FILE_GLOB):
        path.write_text("\n".join(lines) + "\n")


async def test_keyed_trail_verifies_and_is_checkpointed(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    await _trail(redis_client, tmp_path)
    report = await _verify(redis_client, tmp_path)
    assert report["ok"], report
    points = anchor.read_checkpoints(tmp_path / "checkpoints.jsonl")
    assert points and points[0]["count"] == 1
    records = await AuditLog(redis_client).records()
    assert all(r.get("alg") == anchor.HMAC_ALG for r in records)


async def test_consistent_sha256_rewrite_of_both_copies_is_caught(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    await _trail(redis_client, tmp_path)
    await _rewrite_both(redis_client, tmp_path, key=None, alg=None)
    # the old verifier (no key, no checkpoints) is fooled: this is the hole being closed
    assert (await verify_report(redis_client, tmp_path / "audit", "both"))["ok"]
    report = await _verify(redis_client, tmp_path)
    assert not report["ok"]
    assert report["first_problem"]["reason"] == "checkpoint_mismatch", report  # type: ignore[index]


async def test_rewrite_with_a_guessed_key_or_without_checkpoints_is_caught(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    await _trail(redis_client, tmp_path)
    await _rewrite_both(redis_client, tmp_path, key=anchor.audit_key("guess"), alg=anchor.HMAC_ALG)
    report = await _verify(redis_client, tmp_path)
    assert report["first_problem"]["reason"] == "modified", report  # type: ignore[index]
    (tmp_path / "checkpoints.jsonl").unlink()
    await _rewrite_both(redis_client, tmp_path, key=None, alg=None)
    report = await _verify(redis_client, tmp_path)
    assert report["first_problem"]["reason"] == "checkpoints_missing", report  # type: ignore[index]


async def test_forged_checkpoint_and_cut_records_are_caught(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    audit = await _trail(redis_client, tmp_path, n=3)
    path = tmp_path / "checkpoints.jsonl"
    line = anchor.checkpoint_line(KEY, str(await audit.head()), 3)
    mirror.append_line(path, json.dumps(line), checked=set())
    assert (await _verify(redis_client, tmp_path))["ok"]
    forged = dict(line, count=2)
    mirror.append_line(path, json.dumps(forged), checked=set())
    report = await _verify(redis_client, tmp_path)
    assert report["first_problem"]["reason"] == "checkpoint_forged", report  # type: ignore[index]
    path.write_text(json.dumps(line) + "\n")
    last = (await redis_client.xrevrange(keys.AUDIT_STREAM, count=1))[0][0]
    await redis_client.xdel(keys.AUDIT_STREAM, last)
    prev = (await redis_client.xrevrange(keys.AUDIT_STREAM, count=1))[0][1]["hash"]
    await redis_client.set(keys.AUDIT_HEAD, prev)
    report = await verify_report(
        redis_client, tmp_path / "audit", "redis", key=KEY, checkpoints=path
    )
    assert report["first_problem"]["reason"] == "records_cut", report  # type: ignore[index]


async def test_key_rotation_keeps_old_links_verifiable(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    await _trail(redis_client, tmp_path, n=2)
    new_key = anchor.audit_key("the-next-secret")
    assert new_key is not None and KEY is not None
    rotated = AuditLog(
        redis_client, tmp_path / "audit", key=new_key, checkpoints=tmp_path / "checkpoints.jsonl"
    )
    await rotated.append("decision", actor="U9", action="resolve")
    ring = anchor.keyring(new_key, [KEY])
    report = await verify_report(
        redis_client,
        tmp_path / "audit",
        "both",
        key=ring,
        checkpoints=tmp_path / "checkpoints.jsonl",
    )
    assert report["ok"], report
    only_new = await verify_report(
        redis_client, tmp_path / "audit", "redis", key=new_key, checkpoints=None
    )
    assert only_new["first_problem"]["reason"] == "key_needed"  # type: ignore[index]
