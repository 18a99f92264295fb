"""`wizard audit verify | export`: the audit trail's two operator commands.

Parsed by `bot/cli.py` (which owns exit codes and logging); the reports themselves are built in
`bot/audit/commands.py`. Verify refuses a missing data dir before anything starts: an embedded
Redis started on a wrong data dir would create it, and an empty trail "verifies".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings


async def _audit(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from bot.audit import anchor
    from bot.audit.commands import export_report, verify_report
    from bot.components import secret_text
    from bot.runtime import open_redis

    mirror_dir = settings.data_dir / "audit"
    if args.audit_command == "verify" and (missing := _missing_trail(settings, args.source)):
        return {"source": args.source, "ok": False, "error": missing}
    retired = (secret_text(settings.audit_keys_retired) or "").split(",")
    key = anchor.keyring(
        anchor.key_for(secret_text(settings.audit_key), settings.data_dir),
        [k for k in (anchor.audit_key(s.strip()) for s in retired) if k is not None],
    )
    points = anchor.checkpoints_path(settings.data_dir)
    if args.audit_command == "verify" and args.source == "file":
        # the file copy needs no Redis
        return await verify_report(None, mirror_dir, "file", key=key, checkpoints=points)
    client, embedded = await open_redis(settings)
    try:
        if args.audit_command == "verify":
            return await verify_report(client, mirror_dir, args.source, key=key, checkpoints=points)
        return await export_report(
            client,
            args.out,
            since=args.since,
            until=args.until,
            thread=args.thread,
            feedback=args.feedback,
        )
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()


def _missing_trail(settings: Settings, source: str) -> str | None:
    """Why there is nothing to verify, before anything is started (an embedded Redis started
    on a wrong data dir would create it, and an empty trail "verifies")."""
    data_dir = settings.data_dir.resolve()
    needs_dir = source in ("file", "both") or settings.redis_url is None
    if needs_dir and not data_dir.is_dir():
        return f"WIZARD_DATA_DIR={data_dir} does not exist: no audit trail there to verify"
    if source in ("file", "both") and not (data_dir / "audit").is_dir():
        return f"no audit file copy under WIZARD_DATA_DIR={data_dir} (expected {data_dir}/audit)"
    return None


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.settings import load_settings

    settings = load_settings()
    report = asyncio.run(_audit(settings, args))
    sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    sys.stdout.flush()
    if report.get("error"):
        sys.stderr.write(f"wizard: {report['error']}\n")
    return 0 if report.get("ok", True) else 1


def _iso_time(value: str) -> Any:
    from bot.audit.export import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None


def add_audit(sub: Any) -> None:
    """The `audit` sub-parser (imports nothing heavy: `wizard --help` stays fast)."""
    audit = sub.add_parser("audit", help="verify or export the tamper-evident audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="walk the hash chain; exit 1 if broken")
    verify.add_argument("--source", choices=("redis", "file", "both"), default="both")
    verify.set_defaults(func=cmd_audit)
    export = audit_sub.add_parser("export", help="write JSONL, CSV and Markdown for an examiner")
    export.add_argument("--since", type=_iso_time, required=True, help="ISO time, inclusive")
    export.add_argument("--until", type=_iso_time, required=True, help="ISO time, exclusive")
    export.add_argument("--thread", help="only this thread, e.g. C123:1700000000.0001")
    export.add_argument("--out", type=Path, default=Path("."), help="directory (default: .)")
    export.add_argument(
        "--feedback",
        action="store_true",
        help="also feedback-eval.jsonl: each helpful/not helpful/wrong runbook verdict with the "
        "answer it judged (an evaluation set)",
    )
    export.set_defaults(func=cmd_audit)
