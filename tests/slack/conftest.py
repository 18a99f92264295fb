"""Fixtures shared by the Slack-surface tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.harness import Bot, settings_for, start_bot, stop_bot


@pytest.fixture
async def modelless_bot(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client: Any, tmp_path: Path
) -> AsyncIterator[Bot]:
    """A bot without a model (runbook-fallback mode) on a flushed Redis."""
    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=None
    )
    running = await start_bot(settings, sandbox)
    yield running
    await stop_bot(running)
