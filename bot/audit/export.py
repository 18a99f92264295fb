"""An examiner's export: the records of a time window (and optionally one thread) as files.

Examiners ask for "everything the bot said about that incident, between these times", and want
to read it without Redis or our code: the JSONL keeps every record verbatim with its chain fields
(so it can be re-hashed), the CSV opens in a spreadsheet, and the Markdown is a readable table.
Filtering uses each record's own `at`, the time written into the hashed body.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.audit.chain import canonical

COLUMNS = ("at", "kind", "thread", "actor", "model", "fallback", "cost_usd", "hash", "id")


def parse_time(value: str) -> datetime:
    """ISO 8601; a time without an offset is taken as UTC (records are written in UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def select(
    records: list[dict[str, Any]], since: datetime, until: datetime, thread: str | None = None
) -> list[dict[str, Any]]:
    """Records with `since <= at < until`, and on `thread` when given, in chain order."""
    chosen = []
    for record in records:
        try:
            at = parse_time(str(record.get("at", "")))
        except ValueError:
            continue
        if not since <= at < until:
            continue
        if thread is not None and record.get("thread") != thread:
            continue
        chosen.append(record)
    return chosen


def _cell(record: dict[str, Any], column: str) -> str:
    value = record.get(column)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: audit records carry alert and user text, and a cell
    starting with `=`, `+`, `-`, `@` (or a tab/CR) would be run as a formula when a reviewer opens
    the export (OWASP "CSV injection"). Such cells get a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _md_cell(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def write_export(
    records: list[dict[str, Any]], out_dir: Path, *, header: dict[str, Any]
) -> dict[str, Path]:
    """Write `audit-export.{jsonl,csv,md}` under `out_dir`; returns their paths by format."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {fmt: out_dir / f"audit-export.{fmt}" for fmt in ("jsonl", "csv", "md")}
    with paths["jsonl"].open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(canonical(record) + "\n")
    with paths["csv"].open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for record in records:
            writer.writerow([_csv_cell(_cell(record, c)) for c in COLUMNS])
    lines = ["# Infrastructure Wizard audit export", ""]
    for key, value in header.items():
        lines.append(f"- **{key}**: {_md_cell(json.dumps(value, default=str))}")
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for record in records:
        lines.append("| " + " | ".join(_md_cell(_cell(record, c)) for c in COLUMNS) + " |")
    paths["md"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
