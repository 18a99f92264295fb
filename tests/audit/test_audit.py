"""Audit records are redacted, hash-chained and verifiable."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import redis.asyncio as redis

from bot.audit.log import GENESIS, AuditLog, money
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
