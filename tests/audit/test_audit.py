"""Audit records are redacted, hash-chained and verifiable."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.audit import log as audit_log
from bot.audit import mirror
from bot.audit.chain import GENESIS, canonical
from bot.audit.commands import verify_report
from bot.audit.log import AuditLog, money
from bot.store import keys


async def test_chain_and_redaction(redis_client: redis.Redis) -> None:
    audit = AuditLog(redis_client)
    first = await audit.append("triage", answer="use token xoxb-1234567890-abcdefghijkl", n=1)
    second = await audit.append("followup", question="and now?", cost_usd=money(Decimal("0.0123")))
    assert first["prev_hash"] == GENESIS
    assert second["prev_hash"] == first["hash"]
    records = await audit.records()
    assert [r["kind"] for r in records] == ["triage", "followup"]
    assert "xoxb-1234567890" not in records[0]["answer"]
    assert records[1]["cost_usd"] == "0.0123"
    assert await audit.verify() == (2, None)


async def test_concurrent_appends_keep_one_chain(redis_client: redis.Redis) -> None:
    audit = AuditLog(redis_client)
    await asyncio.gather(*(audit.append("decision", i=i) for i in range(40)))
    checked, broken = await audit.verify()
    assert (checked, broken) == (40, None)


async def test_tampering_is_detected(redis_client: redis.Redis) -> None:
    audit = AuditLog(redis_client)
    for i in range(3):
        await audit.append("triage", i=i)
    entries = await redis_client.xrange(keys.AUDIT_STREAM)
    victim_id, fields = entries[1]
    await redis_client.xdel(keys.AUDIT_STREAM, victim_id)
    await redis_client.xadd(
        keys.AUDIT_STREAM, {**fields, "record": fields["record"].replace('"i":1', '"i":9')}
    )
    checked, broken = await audit.verify()
    assert broken is not None
    assert checked == 1


def only_file(directory: Path) -> Path:
    (path,) = directory.glob("audit-*.jsonl")
    return path


async def test_file_mirror_matches_redis(redis_client: redis.Redis, tmp_path: Path) -> None:
    audit = AuditLog(redis_client, tmp_path)
    await audit.append("triage", thread="C1:1.0", n=0)
    await asyncio.gather(*(audit.append("decision", i=i) for i in range(20)))
    read = mirror.read_dir(tmp_path)
    assert read.records == await audit.records()
    assert read.torn == [] and read.partial_tail is None
    path = only_file(tmp_path)
    assert path.name == f"audit-{datetime.now(UTC):%Y-%m}.jsonl"
    first = path.read_text().splitlines()[0]
    assert first == canonical(json.loads(first))  # one canonical line per record
    assert set(json.loads(first)) >= {"prev_hash", "hash", "id", "kind", "at"}


async def test_mirror_is_fsynced_off_the_event_loop(
    redis_client: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    threads: list[str] = []
    real_fsync, real_append = os.fsync, mirror.append_line

    def spy_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    def spy_append(*args: Any, **kwargs: Any) -> None:
        threads.append(threading.current_thread().name)
        real_append(*args, **kwargs)

    monkeypatch.setattr(mirror.os, "fsync", spy_fsync)
    monkeypatch.setattr(mirror, "append_line", spy_append)
    record = await AuditLog(redis_client, tmp_path).append("triage", n=1)
    assert synced  # the line (and the new file's directory) were fsync'd before append returned
    assert threads and threads[0] != threading.main_thread().name
    path = only_file(tmp_path)
    with path.open(encoding="utf-8") as fresh:  # a new reader sees the complete line
        assert json.loads(fresh.readline())["hash"] == record["hash"]


async def test_file_failure_keeps_redis_record(
    redis_client: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[tuple[str, dict[str, Any]]] = []

    class Spy:
        def info(self, *_: Any, **__: Any) -> None:
            pass

        def error(self, event: str, **fields: Any) -> None:
            errors.append((event, fields))

    monkeypatch.setattr(audit_log, "log", Spy())
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the audit dir should be")
    audit = AuditLog(redis_client, blocked)
    record = await audit.append("triage", n=1)
    assert [event for event, _ in errors] == ["audit_mirror_failed"]
    assert errors[0][1]["hash"] == record["hash"]
    assert [r["hash"] for r in await audit.records()] == [record["hash"]]
    report = await verify_report(redis_client, blocked, "both")
    assert report["ok"] is False
    assert report["first_problem"]["reason"] == "missing_in_file"
    assert report["first_problem"]["hash"] == record["hash"]


async def test_redis_down_raises_and_writes_no_file(tmp_path: Path) -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1", decode_responses=True)
    with pytest.raises(RedisConnectionError):
        await AuditLog(dead, tmp_path).append("triage", n=1)
    await dead.aclose()
    assert mirror.read_dir(tmp_path).records == []
    assert not tmp_path.joinpath(f"audit-{datetime.now(UTC):%Y-%m}.jsonl").exists()


async def test_reserved_field_names_are_refused(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await AuditLog(redis_client).append("triage", hash="x")


async def test_partial_trailing_line_is_tolerated(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    await AuditLog(redis_client, tmp_path).append("triage", n=1)
    path = only_file(tmp_path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"kind":"triage","at":"2026-')  # a crash mid-write
    read = mirror.read_dir(tmp_path)
    assert len(read.records) == 1
    assert read.partial_tail == f"{path.name}:2"
    report = await verify_report(None, tmp_path, "file")
    assert report["ok"] is True and report["file"]["partial_tail"] == f"{path.name}:2"
    # After a restart the writer ends the torn line first, so the next record stays readable.
    await AuditLog(redis_client, tmp_path).append("triage", n=2)
    read = mirror.read_dir(tmp_path)
    assert [r["n"] for r in read.records] == [1, 2]
    assert read.torn == [f"{path.name}:2"] and read.partial_tail is None
    assert read.records == await AuditLog(redis_client).records()


async def test_append_once_leaves_one_record_when_two_runs_race(redis_client: redis.Redis) -> None:
    """Two workers running the same job (a lease lost in a Redis outage) both try to audit it:
    the check and the append are one transaction, so exactly one record is written."""
    audit = AuditLog(redis_client)
    await audit.append("other", n=0)
    once = keys.audited("msg:C1:1.1", "triage")
    results = await asyncio.gather(
        *(audit.append_once(once, "triage", job_id="msg:C1:1.1", run=n) for n in range(6))
    )
    written = [r for r in results if r is not None]
    assert len(written) == 1
    records = await audit.records()
    assert [r["kind"] for r in records] == ["other", "triage"]
    assert await audit.verify() == (2, None)
    assert await audit.append_once(once, "triage", job_id="msg:C1:1.1") is None
