"""Bad settings exit 2 with one line naming the variable; good ones parse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import DEFAULT_MODEL, ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
WIZARD = [sys.executable, "-m", "bot.cli"]


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WIZARD_"))}
    clean.pop("ANTHROPIC_API_KEY", None)
    clean.pop("REDIS_URL", None)
    return subprocess.run(
        [*WIZARD, *args],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": "not a url"}, "SLACK_API_URL"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "WIZARD_LLM_DEADLINE_S": "-1"}, "WIZARD_LLM_DEADLINE_S"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "ANTHROPIC_BASE_URL": "ftp:/x"}, "ANTHROPIC_BASE_URL"),
    ],
)
def test_serve_with_bad_settings_exits_2_with_one_line(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    result = _run(["serve", "--port", "0"], env, tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "set" in lines[0] or "fix" in lines[0]


def test_socket_mode_needs_app_token(tmp_path: Path) -> None:
    result = _run(["serve", "--socket"], {"SLACK_BOT_TOKEN": "xoxb-1"}, tmp_path)
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr


def test_defaults_and_channel_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIZARD_ALERT_CHANNELS", "C1, C2  C3")
    monkeypatch.delenv("WIZARD_MODEL", raising=False)
    settings = load_settings()
    assert settings.alert_channels == frozenset({"C1", "C2", "C3"})
    assert settings.wizard_model == DEFAULT_MODEL
    assert settings.slack_api_base.endswith("/")


def test_config_error_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIZARD_WORKERS", "zero")
    with pytest.raises(ConfigError, match="WIZARD_WORKERS"):
        load_settings()


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    result = _run(["parse", "bad.json"], {}, tmp_path)
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    missing = _run(["parse", "nope.json"], {}, tmp_path)
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
