"""The context store remembers alerts, deploys, answers and threads, and assembles a Context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as redis

from bot.context.store import ContextStore, ThreadInfo, Turn
from bot.models import Alert, Deploy, PastAnswer


def _alert(name: str = "OrderGatewayLatencyHigh", fp: str = "fp1", **kw) -> Alert:
    return Alert(
        source="alertmanager",
        status=kw.pop("status", "firing"),
        name=name,
        severity="critical",
        service=kw.pop("service", "order-gateway"),
        fingerprint=fp,
        **kw,
    )


async def test_alert_state_open_and_resolved(redis_client: redis.Redis) -> None:
    store = ContextStore(redis_client)
    first = await store.record_alert(_alert(), channel="C1", thread_ts="1.0")
    again = await store.record_alert(_alert())
    assert again.occurrences == 2
    assert again.first_seen == first.first_seen
    assert again.thread_ts == "1.0"
    assert [r.alert.fingerprint for r in await store.open_alerts()] == ["fp1"]
    await store.record_alert(_alert(status="resolved"))
    assert await store.open_alerts() == []


async def test_deploys_newest_first_and_windowed(redis_client: redis.Redis) -> None:
    store = ContextStore(redis_client, deploy_window=timedelta(hours=2))
    now = datetime.now(UTC)
    for hours, version in ((30, "1.0"), (1, "1.1"), (0.1, "1.2")):
        await store.record_deploy(
            Deploy(
                service="order-gateway",
                version=version,
                previous_version=None,
                at=now - timedelta(hours=hours),
            )
        )
    deploys = await store.deploys_for("order-gateway", since=now - timedelta(hours=24))
    assert [d.version for d in deploys] == ["1.2", "1.1"]
    context = await store.build_context(_alert(starts_at=now))
    assert [d.version for d in context.deploys] == ["1.2", "1.1"]


async def test_related_past_answers_and_group(redis_client: redis.Redis) -> None:
    store = ContextStore(redis_client)
    await store.record_alert(_alert("FixSessionDown", "fp2"))
    await store.record_alert(_alert("Other", "fp3", service="risk-engine"))
    await store.record_answer(
        "fp1", PastAnswer(at=datetime.now(UTC), summary="restarted ogw-2", fallback=False)
    )
    primary = _alert()
    await store.record_alert(primary)
    sibling = _alert("X", "fp4")
    context = await store.build_context(primary, group=[primary, sibling])
    assert [r.alert.name for r in context.related] == ["FixSessionDown"]
    assert context.past_answers[0].summary == "restarted ogw-2"
    assert [a.fingerprint for a in context.group] == ["fp4"]
    assert context.record is not None and context.record.occurrences == 1


async def test_thread_memory(redis_client: redis.Redis) -> None:
    store = ContextStore(redis_client)
    info = ThreadInfo(
        channel="C1", thread_ts="5.0", kind="alert", fingerprint="fp1", alert=_alert()
    )
    await store.set_thread(info)
    assert (await store.get_thread("C1", "5.0")) == info
    assert await store.get_thread("C1", "6.0") is None
    for i in range(60):
        await store.add_turn("C1", "5.0", Turn(role="user", text=f"q{i}"))
    turns = await store.turns("C1", "5.0")
    assert len(turns) == 50
    assert turns[-1].text == "q59"
