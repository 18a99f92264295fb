"""Incident-test fixtures: the real bot on real Redis, the Slack sandbox and the fake model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import Bot, settings_for, start_bot, stop_bot


@pytest.fixture
async def make_bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> AsyncIterator[Any]:
    started: list[Bot] = []

    async def make(**extra: Any) -> Bot:
        settings = settings_for(
            sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm, **extra
        )
        bot = await start_bot(settings, sandbox)
        started.append(bot)
        return bot

    yield make
    for bot in started:
        await stop_bot(bot)
