"""Fixtures for the fault-injection suite: a Redis server each test owns (so a test may stop,
restart or kill it without touching the session server other tests share), and a client to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A valkey server the bots under test connect to via REDIS_URL, but do not own."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start_sync()
    try:
        yield server
    finally:
        server.stop_sync()


@pytest.fixture
async def own_client(own_redis: EmbeddedRedis) -> AsyncIterator[redis.Redis]:
    client = connect(own_redis.url)
    try:
        yield client
    finally:
        await client.aclose()


_OUTCOMES: list[tuple[str, str, dict[str, object]]] = []


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`record(**figures)`: timings and counts a scenario measured, shown in the summary table
    at the end of the run (with the outcome), so a slow recovery is visible even when it passes."""
    figures: dict[str, object] = {}
    _OUTCOMES.append((request.node.name, "?", figures))
    index = len(_OUTCOMES) - 1

    def note(**values: object) -> None:
        figures.update(values)

    yield note  # type: ignore[misc]
    name, _, figures = _OUTCOMES[index]
    report = getattr(request.node, "rep_call", None)
    outcome = report.outcome if report is not None else "error"
    _OUTCOMES[index] = (name, outcome, figures)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _OUTCOMES:
        return
    terminalreporter.section("fault injection: outcomes and timings")
    for name, outcome, figures in _OUTCOMES:
        shown = "  ".join(f"{k}={v}" for k, v in figures.items())
        terminalreporter.write_line(f"{outcome:7} {name:70} {shown}")
