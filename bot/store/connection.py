"""The Redis connection: one client for the process, with retries on transient errors.

redis-py already retries and reconnects; we only choose the policy (exponential backoff, a few
attempts) so a Redis restart or failover shows up as latency, not as a lost alert.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError


def connect(url: str) -> redis.Redis:
    """A decode_responses client that rides out restarts for ~10 s before raising."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=12),
        retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError, ConnectionRefusedError],
        health_check_interval=15,
        socket_connect_timeout=2.0,
        socket_keepalive=True,
    )
