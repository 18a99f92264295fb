"""Change freezes: the calendar file, scopes, guidance, the command parser, and manual freezes
in the real Redis the fixtures start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.freeze import (
    FreezeCalendar,
    FreezeCommandError,
    FreezeScope,
    FreezeStore,
    deploys_during,
    freeze_guidance,
    parse_freeze_command,
    status_text,
)
from bot.models import Deploy
from bot.store import keys
from bot.yamldoc import DataFileError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def calendar() -> FreezeCalendar:
    return FreezeCalendar.load(ROOT / "freezes.yaml")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_example_calendar_loads_with_zones_applied(calendar: FreezeCalendar) -> None:
    ids = [w.id for w in calendar.windows]
    assert ids[0] == "msci-sair-2026-11" and "year-end-2026" in ids
    year_end = next(w for w in calendar.windows if w.id == "year-end-2026")
    assert year_end.start == utc(2026, 12, 30, 16, 0)  # London winter time = UTC
    quad = next(w for w in calendar.windows if w.id == "quad-witching-2026-12")
    assert quad.start == utc(2026, 12, 17, 23, 0)  # 18:00 New York
    assert quad.scope.venues == ["XNYS", "CMES", "XEUR"]


def test_inside_outside_and_boundaries(calendar: FreezeCalendar) -> None:
    assert [w.id for w in calendar.active(utc(2026, 12, 31, 12, 0))] == ["year-end-2026"]
    assert calendar.active(utc(2026, 12, 30, 15, 59)) == []
    assert [w.id for w in calendar.active(utc(2026, 12, 30, 16, 0))] == ["year-end-2026"]
    assert calendar.active(utc(2027, 1, 4, 8, 0)) == []  # end is exclusive


def test_scope_by_service_and_by_venue(calendar: FreezeCalendar) -> None:
    during_quad = utc(2026, 12, 18, 15, 0)
    assert [w.id for w in calendar.active(during_quad, "pricing_engine")] == [
        "quad-witching-2026-12"
    ]
    assert calendar.active(during_quad, "clearing-batch") == []
    assert calendar.active(during_quad, "order-gateway", venues=["XLON"]) == []
    hit = calendar.active(during_quad, "order-gateway", venues=["NYSE"])
    assert [w.id for w in hit] == ["quad-witching-2026-12"]
    # an instance name of a scoped service is covered
    upgrade = utc(2027, 1, 23, 10, 0)
    assert calendar.active(upgrade, "fix-engine-ldn-2") != []
    # asking about no particular service sees every window in force
    assert [w.id for w in calendar.active(during_quad)] == ["quad-witching-2026-12"]


def test_upcoming(calendar: FreezeCalendar) -> None:
    soon = calendar.upcoming(utc(2026, 12, 30, 6, 0), within_h=12)
    assert [w.id for w in soon] == ["year-end-2026"]
    assert calendar.upcoming(utc(2026, 12, 30, 6, 0), within_h=6) == []


def test_missing_file_is_no_freezes(tmp_path: Path) -> None:
    assert FreezeCalendar.load(tmp_path / "none.yaml").active(utc(2026, 12, 31)) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'start: "2026-12-01 10:00"\n    end: "2026-12-01 12:00"',
            r":2: freezes.0: .*no time zone",
        ),
        (
            'start: "2026-12-01 10:00"\n    end: "2026-12-01 09:00"\n    tz: UTC',
            r":2: freezes.0: .*end must be after",
        ),
        (
            'start: "2026-12-01 10:00"\n    end: "2026-12-02 10:00"\n    tz: Mars/Olympus',
            r":6: freezes.0.tz: .*unknown time zone",
        ),
    ],
)
def test_bad_windows_name_file_and_line(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "freezes.yaml"
    path.write_text(f"freezes:\n  - id: x\n    reason: r\n    {entry}\n")
    with pytest.raises(DataFileError, match=r"freezes.yaml" + message):
        FreezeCalendar.load(path)


def test_guidance_prefers_rollback_and_flags_deploys_in_the_freeze(
    calendar: FreezeCalendar,
) -> None:
    at = utc(2026, 12, 31, 12, 0)
    windows = calendar.active(at, "order-gateway")
    deploys = [
        Deploy(service="order-gateway", version="2.4.1", at=utc(2026, 12, 31, 9, 15)),
        Deploy(service="order-gateway", version="2.4.0", at=utc(2026, 12, 29, 9, 0)),  # before
    ]
    flagged = deploys_during(windows, deploys)
    assert [(d.deploy.version, d.window.id) for d in flagged] == [("2.4.1", "year-end-2026")]
    lines = freeze_guidance(windows, deploys)
    assert lines[0].startswith("Change freeze in force: Quarter and year end")
    assert any(line.startswith("Prefer rolling back") for line in lines)
    assert any(line.startswith("Do not deploy") for line in lines)
    assert lines[-1] == (
        "Deploy of order-gateway 2.4.1 at 2026-12-31 09:15 UTC happened during the freeze "
        "(year-end-2026): treat it as the prime suspect and roll it back."
    )
    assert freeze_guidance([], deploys) == []


def test_parse_freeze_commands() -> None:
    now = utc(2026, 11, 30, 10, 0)
    assert parse_freeze_command("", now).action == "status"
    assert parse_freeze_command("status", now).action == "status"
    assert parse_freeze_command("off", now).action == "off"
    cmd = parse_freeze_command("on for 1h30m services order-gateway,fix-engine vendor outage", now)
    assert cmd.action == "on"
    assert cmd.until == utc(2026, 11, 30, 11, 30)
    assert cmd.scope.services == ["order-gateway", "fix-engine"]
    assert cmd.reason == "vendor outage"
    cmd = parse_freeze_command("on until 2026-12-01T18:00Z venues LSE,xetra checks", now)
    assert cmd.until == utc(2026, 12, 1, 18, 0)
    assert cmd.scope.venues == ["XLON", "XETR"]
    assert parse_freeze_command("on", now).scope.is_all


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("maybe", "unknown freeze action"),
        ("on for soon x", "cannot read duration"),
        ("on until 2026-12-01T18:00 x", "needs a zone"),
        ("on until 2026-11-01T18:00Z x", "in the past"),
    ],
)
def test_parse_freeze_command_errors(text: str, message: str) -> None:
    with pytest.raises(FreezeCommandError, match=message) as err:
        parse_freeze_command(text, utc(2026, 11, 30, 10, 0))
    assert "usage:" in str(err.value)


async def test_manual_freeze_on_status_off(redis_client: redis.Redis) -> None:
    store = FreezeStore(redis_client)
    now = datetime.now(UTC)
    assert await store.manual() is None
    window = await store.set_manual(
        True,
        by="U123",
        reason="vendor outage",
        until=now + timedelta(hours=2),
        scope=FreezeScope(services=["order-gateway"]),
    )
    assert window is not None and window.source == "manual"
    # a second process sees the same freeze through Redis, with its expiry set
    other = FreezeStore(redis_client)
    manual = await other.manual()
    assert manual is not None and manual.set_by == "U123" and manual.reason == "vendor outage"
    ttl = await redis_client.ttl(keys.freeze_manual())
    assert 7100 < ttl <= 7200
    assert [w.id for w in await other.active(now + timedelta(minutes=1), "ORDER_GATEWAY")] == [
        "manual"
    ]
    assert await other.active(now + timedelta(minutes=1), "clearing-batch") == []
    assert await other.active(now + timedelta(hours=3), "order-gateway") == []

    assert await store.set_manual(False, by="U456") is None
    assert await other.manual() is None
    history = await other.history()
    assert [(c.action, c.by) for c in history] == [("off", "U456"), ("on", "U123")]
    text = status_text(await other.active(now), history)
    assert text.startswith("No change freeze in force.")
    assert "Last manual change: off by U456" in text


async def test_manual_freeze_without_end_combines_with_the_calendar(
    redis_client: redis.Redis, calendar: FreezeCalendar
) -> None:
    store = FreezeStore(redis_client, calendar)
    await store.set_manual(True, by="U1", reason="incident 42")
    assert await redis_client.ttl(keys.freeze_manual()) == -1  # until lifted
    # the manual freeze started now, so it does not cover the past calendar window
    active = await store.active(datetime.now(UTC) + timedelta(seconds=1), "order-gateway")
    assert [w.id for w in active] == ["manual"]
    text = status_text(active, await store.history())
    assert "incident 42 (manual; all services; until lifted, set by U1)" in text


async def test_manual_freeze_expires_by_itself(redis_client: redis.Redis) -> None:
    store = FreezeStore(redis_client)
    until = datetime.now(UTC) + timedelta(seconds=1.2)
    await store.set_manual(True, by="U1", until=until)
    assert await store.manual() is not None
    async with asyncio.timeout(10):  # Redis expires it: nothing in the bot has to lift it
        while await store.manual() is not None:
            await asyncio.sleep(0.05)
    assert datetime.now(UTC) >= until - timedelta(seconds=1)  # not before its end (1 s TTL grain)


async def test_until_in_the_past_or_naive_is_refused(redis_client: redis.Redis) -> None:
    store = FreezeStore(redis_client)
    with pytest.raises(ValueError, match="in the past"):
        await store.set_manual(True, by="U1", until=datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.set_manual(True, by="U1", until=datetime(2030, 1, 1))
    assert await store.manual() is None
    assert await store.history() == []
