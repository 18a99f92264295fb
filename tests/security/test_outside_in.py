"""The outside-in campaign as a test: 26 kinds × 9 entry points, every sink, zero raw values.

The campaign runs in its own process (`python -m tests.security.campaign`) so its logging is
configured at DEBUG from the first line, like `wizard serve` with `WIZARD_LOG_LEVEL=DEBUG`; this
test reads its JSON report. What it proves, from outside: no planted secret reaches any sink
(model requests, Slack posts, response_url posts, HTTP acks, DEBUG logs, audit stream and file,
every Redis value, the AOF files, any other file in the data dir); no planted trading identifier
reaches any sink except the Slack replies people read (re-hydrated on purpose); another local
user can neither connect to the embedded Redis nor read its files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_planted_value_reaches_any_sink(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.security.campaign", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["attempts"] == {"secret": 18 * 9, "trading": 8 * 9}
    assert report["requests"] >= 80 and report["http_5xx"] == 0
    assert report["model_calls"] >= 15
    # every sink was really looked into, and the masks are there (nothing silently dropped)
    for sink in ("model_requests", "slack_posts", "logs_debug", "audit_stream", "audit_file"):
        assert report["sink_sizes"][sink] > 1000, sink
    for sink in ("redis_values", "aof_files", "model_requests", "logs_debug", "audit_stream"):
        assert report["masks_seen"][sink] > 100, sink
    assert report["leaked_anywhere"] == {"secret": 0, "trading": 0}, report["by_kind"]
    assert all(counts["secret"] == 0 for counts in report["by_sink"].values())
    probe = report["other_user"]
    assert "skipped" in probe or (
        probe["connect"].startswith("refused") and probe["readable"] == []
    ), probe
    for path, mode in report["modes"].items():
        assert mode in ("0o700", "0o600"), (path, mode)
