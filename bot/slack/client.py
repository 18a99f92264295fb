"""The Slack Web API client, built once, with the SDK's own retry handlers and one session.

slack-sdk already knows how to honour `Retry-After` on 429, retry 5xx and reconnect; we only turn
those handlers on. `SLACK_API_URL` points the client at another base URL (a proxy, or the local
sandbox used by `wizard demo` and the tests).

Without a `session` the SDK opens (and closes) a fresh aiohttp session — a new connection pool,
TLS handshake included against the real Slack — for every API call; that was a large share of a
job's CPU. `slack_session()` is the one session a runtime shares across every Web API call and
`response_url` post; the runtime closes it on stop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics

log = structlog.get_logger(__name__)

RateLimited = Callable[[str, float], Awaitable[None]]
"""Told of every 429: the API method (e.g. `chat.update`) and Slack's `Retry-After` in seconds."""


class CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """The SDK's 429 handler (it honours Retry-After), counting each 429 for `/metrics` and
    telling `on_limited`, so a limit one replica hit pauses that method's work on all of them."""

    def __init__(self, *, max_retry_count: int, on_limited: RateLimited | None = None) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.on_limited = on_limited

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        retry = await super()._can_retry_async(**kwargs)
        if retry:
            metrics.SLACK_RATE_LIMITED.inc()
            if self.on_limited is not None:
                response = kwargs["response"]
                method = str(kwargs["request"].url).rstrip("/").rsplit("/", 1)[-1]
                wait = next(
                    (v[0] for k, v in response.headers.items() if k.lower() == "retry-after"),
                    "1",
                )
                try:
                    await self.on_limited(method, float(wait))
                except Exception as exc:  # Redis away: the SDK still waits and retries
                    log.warning("rate_limit_share_failed", method=method, error=repr(exc)[:200])
        return retry


def slack_session() -> aiohttp.ClientSession:
    """The runtime's one HTTP session for Slack (keep-alive connections, reused)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30))


def make_web_client(
    token: str,
    base_url: str,
    timeout: int = 15,
    session: aiohttp.ClientSession | None = None,
    on_rate_limited: RateLimited | None = None,
) -> AsyncWebClient:
    """The client with our retry policy. `retry_handlers` is passed explicitly: the SDK's
    default list already holds a connection-error handler that retries only once, and keeping
    it (as an "add one if missing" check did) meant a second reset connection lost the reply."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=3),
            CountingRateLimitHandler(max_retry_count=5, on_limited=on_rate_limited),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )
