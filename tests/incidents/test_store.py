"""IncidentStore against the real Redis: grouping, exactly-one opener, reclaim-safe counting,
flapping, the LLM budget and the coalesced-summary queue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.incidents.store import IncidentStore, group_key_of
from bot.models import Alert


def alert(
    name: str = "OrderGatewayLatencyHigh",
    service: str | None = "order-gateway",
    status: str = "firing",
    severity: str = "warning",
    fp: str | None = None,
    group_key: str | None = None,
    **labels: str,
) -> Alert:
    return Alert(
        source="alertmanager",
        status=status,  # type: ignore[arg-type]
        name=name,
        severity=severity,  # type: ignore[arg-type]
        service=service,
        fingerprint=fp or f"{name}-{service}-{labels.get('instance', '')}",
        labels={"alertname": name, **({"service": service} if service else {}), **labels},
        group_key=group_key,
    )


def test_group_keys_prefer_alertmanager_then_configured_grouping() -> None:
    assert group_key_of(alert(group_key='{}:{alertname="X"}')).startswith("am:")
    assert group_key_of(alert()) == group_key_of(alert(name="Other"))  # same service
    assert group_key_of(alert(), "alertname") != group_key_of(alert(name="Other"), "alertname")
    assert group_key_of(alert(service=None)) == "name:ordergatewaylatencyhigh|"
    assert group_key_of(alert(), "fingerprint") == "fp:OrderGatewayLatencyHigh-order-gateway-"


async def test_concurrent_alerts_of_one_group_open_exactly_one_incident(redis_client) -> None:
    store = IncidentStore(redis_client)
    results = await asyncio.gather(
        *(
            store.attach(
                [alert(instance=f"ogw-{n % 5}")], channel="C1", thread_ts=f"1.{n}", job_id=f"j{n}"
            )
            for n in range(50)
        )
    )
    opened = [r for r in results if r.change == "opened"]
    assert len(opened) == 1
    incident = await store.get(opened[0].incident.id)
    assert incident is not None
    assert incident.events == 50 and len(incident.alerts) == 5
    assert incident.thread_ts == opened[0].incident.thread_ts
    assert incident.instances == [f"ogw-{n}" for n in range(5)]
    assert {a.count for a in incident.alerts.values()} == {10}


async def test_a_reclaimed_job_is_not_counted_twice(redis_client) -> None:
    store = IncidentStore(redis_client)
    first = await store.attach([alert()], channel="C1", thread_ts="1.1", job_id="job-1")
    again = await store.attach([alert()], channel="C1", thread_ts="1.1", job_id="job-1")
    assert (first.change, again.change) == ("opened", "opened")  # the replay says what it did
    assert again.counted == 0
    incident = await store.get(first.incident.id)
    assert incident is not None and incident.events == 1


async def test_resolution_reopen_window_and_material_changes(redis_client) -> None:
    store = IncidentStore(redis_client, reopen_window=timedelta(minutes=15))
    t0 = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    opened = await store.attach([alert()], channel="C1", thread_ts="1.1", job_id="a", now=t0)

    def analysed(i) -> None:  # what the flow records after the first analysis
        i.analyses, i.analysed_severity, i.analysed_services = 1, i.severity, list(i.services)

    await store.update(opened.incident.id, analysed)
    repeat = await store.attach([alert()], channel="C1", thread_ts="1.2", job_id="b", now=t0)
    assert (repeat.change, repeat.material) == ("repeat", False)
    worse = await store.attach(
        [alert(name="OrderRejects", severity="critical")],
        channel="C1",
        thread_ts="1.3",
        job_id="c",
        now=t0,
    )
    assert (worse.change, worse.material) == ("added", True)
    done = await store.attach(
        [alert(status="resolved"), alert(name="OrderRejects", status="resolved")],
        channel="C1",
        thread_ts="1.4",
        job_id="d",
        now=t0 + timedelta(minutes=5),
    )
    assert done.change == "resolved_all" and done.incident.state == "resolved"
    assert done.incident.duration_s == 300
    assert await store.open_incidents() == []
    flap = await store.attach(
        [alert()], channel="C1", thread_ts="1.5", job_id="e", now=t0 + timedelta(minutes=10)
    )
    assert flap.change == "reopened" and flap.material
    assert flap.incident.id == opened.incident.id
    await store.attach(
        [alert(status="resolved")],
        channel="C1",
        thread_ts="1.6",
        job_id="f",
        now=t0 + timedelta(minutes=11),
    )
    later = await store.attach(
        [alert()], channel="C1", thread_ts="1.7", job_id="g", now=t0 + timedelta(hours=2)
    )
    assert later.change == "opened" and later.incident.id != opened.incident.id
    assert later.incident.thread_ts == "1.7"


async def test_dirty_summaries_are_throttled_and_claimed_once(redis_client) -> None:
    store = IncidentStore(redis_client, summary_interval_s=5)
    now = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    await store.rendered("INC-1", now)
    await store.mark_dirty("INC-1", now)
    await store.mark_dirty("INC-2", now)
    assert await store.claim_due(10, now) == ["INC-2"]  # INC-1 was rendered a moment ago
    claims = await asyncio.gather(
        *(store.claim_due(10, now + timedelta(seconds=6)) for _ in range(5))
    )
    assert sorted(c for claim in claims for c in claim) == ["INC-1"]
    assert await store.pending_summaries() == 0


async def test_open_mentioning_finds_names_pydantic_escapes_and_skips_others(redis_client) -> None:
    """Matching's candidate read: a byte search over the stored JSON may only skip incidents
    that cannot hold the name (a name JSON escapes is never filtered away), and a re-read of an
    unchanged incident is the same parsed model (the parse cache), a changed one is fresh."""
    store = IncidentStore(redis_client)
    odd = 'Disk "Full" \\ é'
    for i, name in enumerate(["LatencyHigh", odd, "Other"]):
        await store.attach(
            [alert(name, service=f"s{i}")], channel="C1", thread_ts=f"{i}.1", job_id=f"j{i}"
        )
    found = await store.open_mentioning("LatencyHigh", 200)
    assert len(found) == 1
    assert {a.name for i in found for a in i.alerts.values()} == {"LatencyHigh"}
    odd_found = await store.open_mentioning(odd, 200)
    assert any(a.name == odd for i in odd_found for a in i.alerts.values())
    again = await store.open_mentioning("LatencyHigh", 200)
    assert again[0] is found[0]
    await store.attach(
        [alert("LatencyHigh", service="s0")], channel="C1", thread_ts="9.1", job_id="j9"
    )
    changed = await store.open_mentioning("LatencyHigh", 200)
    assert changed[0] is not found[0] and changed[0].events == found[0].events + 1


async def test_racing_updates_and_attaches_lose_no_change_and_no_incident_number(
    redis_client,
) -> None:
    """Compare-and-set instead of a lock: 30 updates and 30 attaches of one incident at once
    all land (a lost race re-reads and re-applies), and a lost opening race wastes no number."""
    store = IncidentStore(redis_client)
    first = await store.attach([alert()], channel="C1", thread_ts="1.0", job_id="j0")

    def note(n: int):  # type: ignore[no-untyped-def]
        def change(i) -> None:  # type: ignore[no-untyped-def]
            i.advised = [*i.advised, f"step {n}"]

        return change

    await asyncio.gather(
        *(store.update(first.incident.id, note(n)) for n in range(30)),
        *(
            store.attach([alert()], channel="C1", thread_ts=f"2.{n}", job_id=f"a{n}")
            for n in range(30)
        ),
    )
    incident = await store.get(first.incident.id)
    assert incident is not None
    assert sorted(incident.advised) == sorted(f"step {n}" for n in range(30))
    assert incident.events == 31
    racing = await asyncio.gather(
        *(
            store.attach([alert(service="other")], channel="C1", thread_ts=f"3.{n}", job_id=f"o{n}")
            for n in range(10)
        )
    )
    assert {r.incident.id for r in racing} == {"INC-2"}
