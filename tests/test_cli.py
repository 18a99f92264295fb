"""The README's main job and the CLI contract, run as an operator would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = ROOT / "bot" / "demo" / "payloads"


def _run(args: list[str], tmp_path: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WIZARD_"))}
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env["WIZARD_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_runs_the_real_pipeline_without_credentials(tmp_path: Path) -> None:
    result = _run(["demo"], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "OrderGatewayLatencyHigh" in out
    assert "MarketDataFeedGap" in out
    assert "PTPClockOffsetHigh" in out
    assert out.count("(in thread)") >= 6
    assert "Immediate actions" in out
    assert "Runbook fallback" in out or "fallback" in out.lower()
    assert "2026.11.27-1" in out  # rollback target from the deploy history
    assert "hash chain verified" in out and "✅" in out
    assert (tmp_path / "data" / "demo" / "redis" / "appendonlydir").is_dir()


def test_parse_prints_normalized_alerts(tmp_path: Path) -> None:
    result = _run(["parse", str(PAYLOADS / "02_alertmanager_slack.json")], tmp_path)
    assert result.returncode == 0, result.stderr
    alerts = json.loads(result.stdout)
    assert len(alerts) == 1
    assert alerts[0]["name"] == "OrderGatewayLatencyHigh"
    assert alerts[0]["status"] == "firing"
    human = json.dumps({"type": "message", "user": "U1", "text": "anyone around?", "ts": "1.0"})
    result = _run(["parse", "-"], tmp_path, stdin=human)
    assert result.returncode == 0 and json.loads(result.stdout) == []


def test_triage_prints_markdown_with_fallback(tmp_path: Path) -> None:
    result = _run(["triage", str(PAYLOADS / "04_datadog_slack.json")], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for part in ("Immediate actions", "Implementation plan", "Monitoring strategy"):
        assert part in result.stdout
    assert "kafka" in result.stdout.lower()
