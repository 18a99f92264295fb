"""The audit trail's second copy: append-only monthly JSONL files under the data dir.

Redis (with AOF) is the primary copy, but an examiner wants a trail that survives a lost or
rewritten Redis, and a file written with O_APPEND and fsync'd before the append returns is the
simplest thing that does. Each line is one canonical JSON record with its chain fields
(`prev_hash`, `hash`, `id`), so the file alone can be re-verified. A crash mid-write can leave a
torn line; the reader skips and reports it instead of failing, and the writer first terminates a
torn tail so the next record starts on its own line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

FILE_GLOB = "audit-*.jsonl"


def file_for(directory: Path, when: datetime) -> Path:
    """`audit-YYYY-MM.jsonl`: one file per month keeps files small and easy to hand over."""
    return directory / f"audit-{when:%Y-%m}.jsonl"


def _fsync_dir(directory: Path) -> None:
    """A new file's directory entry must be durable too, or the whole file can vanish."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_torn(path: Path) -> bool:
    """True when the file's last byte is not a newline (a write was cut short)."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def append_line(path: Path, line: str, *, checked: set[Path]) -> None:
    """Append one line with O_APPEND, then fsync; blocking, so callers run it in a thread.

    `checked` remembers files whose tail was already inspected by this writer, so a torn tail
    left by a crashed process is terminated once instead of on every append.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # owner only: the trail is evidence
    created = not path.exists()
    data = (line + "\n").encode()
    if path not in checked and not created and _ends_torn(path):
        data = b"\n" + data
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)
    checked.add(path)


@dataclass
class FileRead:
    """What the reader found: parsed records in file order, plus anything it had to skip."""

    records: list[dict[str, Any]] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)
    """`file:line` of unparsable lines followed by more data (a crash, or an edit)."""
    partial_tail: str | None = None
    """`file:line` of an unterminated last line: an append that never finished."""


def read_dir(directory: Path) -> FileRead:
    """Every record in every monthly file, oldest file first; never raises on a bad line."""
    result = FileRead()
    if not directory.is_dir():
        return result
    for path in sorted(directory.glob(FILE_GLOB)):
        raw = path.read_bytes()
        lines = raw.split(b"\n")
        unterminated = lines.pop()  # b"" when the file ends with a newline
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = _parse(line)
            if record is None:
                result.torn.append(f"{path.name}:{number}")
            else:
                result.records.append(record)
        if unterminated.strip():
            result.partial_tail = f"{path.name}:{len(lines) + 1}"
    return result


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
