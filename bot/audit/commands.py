"""What `wizard audit verify` and `wizard audit export` do, separate from argument parsing.

Both return a JSON-able report so the CLI only prints it and picks the exit code; tests call
these directly or through `bot.cli.main`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from bot.audit import anchor, mirror
from bot.audit.chain import GENESIS
from bot.audit.export import select, write_export
from bot.audit.feedback import counts, evaluation_set, write_evaluation_set
from bot.audit.log import AuditLog
from bot.audit.verify import Entry, compare, walk
from bot.store import keys
from bot.store.typed import stream_entries


async def verify_report(
    client: redis.Redis | None,
    mirror_dir: Path,
    source: str,
    *,
    key: anchor.Keys = None,
    checkpoints: Path | None = None,
) -> dict[str, Any]:
    """Walk the chosen copies; `ok` is False on the first broken, missing or extra record.

    With the audit key, every keyed link is checked as an HMAC and each copy is held to the
    signed checkpoints (`bot/audit/anchor.py`): a consistent rewrite of both copies is found."""
    report: dict[str, Any] = {"source": source}
    points = anchor.read_checkpoints(checkpoints) if checkpoints is not None else []
    problems: list[dict[str, Any]] = []
    redis_entries: list[Entry] = []
    file_entries: list[Entry] = []
    if source in ("redis", "both"):
        assert client is not None
        stream = stream_entries(await client.xrange(keys.AUDIT_STREAM))
        redis_entries = [Entry.from_stream(i, f) for i, f in stream]
        head = await AuditLog(client).head() or GENESIS
        checked, found = walk(redis_entries, head=head, key=key)
        found = found or _anchored(redis_entries, points, key)
        report["redis"] = {"records": len(redis_entries), "checked": checked, "broken": found}
        problems += [{"copy": "redis", **found}] if found else []
    if source in ("file", "both"):
        read = mirror.read_dir(mirror_dir)
        file_entries = [Entry.from_line(r) for r in read.records]
        checked, found = walk(file_entries, key=key)
        found = found or _anchored(file_entries, points, key)
        report["file"] = {
            "dir": str(mirror_dir),
            "records": len(file_entries),
            "checked": checked,
            "broken": found,
            "torn_lines": read.torn,
            "partial_tail": read.partial_tail,
        }
        problems += [{"copy": "file", **found}] if found else []
    if source == "both":
        differ = compare(redis_entries, file_entries)
        report["mismatch"] = differ
        problems += [{"copy": "both", **differ}] if differ else []
    if not redis_entries and not file_entries:  # an empty trail proves nothing
        report["error"] = "no audit records found: nothing to verify (is this the bot's data?)"
        problems.append({"copy": source, "error": report["error"]})
    report["ok"] = not problems
    report["first_problem"] = problems[0] if problems else None
    return report


def _anchored(
    entries: list[Entry], points: list[dict[str, Any]], key: anchor.Keys
) -> dict[str, Any] | None:
    linked = [anchor.Linked(e.hash, bool(e.alg)) for e in entries]
    found = anchor.check_checkpoints(linked, points, key)
    return {"id": None, "hash": None, **found} if found else None


async def export_report(
    client: redis.Redis,
    out_dir: Path,
    *,
    since: datetime,
    until: datetime,
    thread: str | None,
    feedback: bool = False,
) -> dict[str, Any]:
    """Export the window from Redis (the primary copy) and say whether its chain is intact.
    With `feedback`, also the evaluation set: every verdict joined with the answer it judged."""
    audit = AuditLog(client)
    records = await audit.records()
    chosen = select(records, since, until, thread)
    checked, broken = await audit.verify()
    header = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "thread": thread,
        "records": len(chosen),
        "chain_checked": checked,
        "chain_intact": broken is None,
    }
    paths = write_export(chosen, out_dir, header=header)
    files = {fmt: str(path) for fmt, path in paths.items()}
    report: dict[str, Any] = {**header, "files": files}
    if feedback:
        # The answers may predate the window: join against the whole trail.
        window = {r.get("at") for r in chosen}
        entries = [e for e in evaluation_set(records) if e["at"] in window]
        files["feedback"] = str(write_evaluation_set(entries, out_dir))
        report["feedback"] = counts(entries)
    return report
