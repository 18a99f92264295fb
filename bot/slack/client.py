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

from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics


class CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """The SDK's 429 handler (it honours Retry-After), counting each 429 for `/metrics`."""

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        retry = await super()._can_retry_async(**kwargs)
        if retry:
            metrics.SLACK_RATE_LIMITED.inc()
        return retry


def slack_session() -> aiohttp.ClientSession:
    """The runtime's one HTTP session for Slack (keep-alive connections, reused)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30))


def make_web_client(
    token: str,
    base_url: str,
    timeout: int = 15,
    session: aiohttp.ClientSession | None = None,
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
            CountingRateLimitHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )
