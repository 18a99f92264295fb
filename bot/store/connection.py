"""The Redis connection: one client for the process, with retries on transient errors.

redis-py already retries and reconnects; we only choose the policy (exponential backoff, a few
attempts) so a Redis restart or failover shows up as latency, not as a lost alert.

`REDIS_URL` may also name a Sentinel-monitored primary,
`redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/service[/db][?sentinel_password=…]`:
redis-py asks the Sentinels where the primary is and, after a failover, reconnects to the new one
(a write that reaches the demoted primary is retried there). redis-py has no URL form for this,
hence the small parser here.

A plain URL gets a `BlockingConnectionPool`: at most `max_connections` sockets, and a request
that finds them all busy waits for one (up to `pool_timeout_s`) instead of failing. The default
pool raises "Too many connections" at 100, which in an alert storm (hundreds of concurrent acks
while every worker holds a blocking XREADGROUP) turned into HTTP 500s and Slack retries. (The
Sentinel pool has no blocking variant in redis-py; it gets the same ceiling, raising past it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelManagedConnection
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

SENTINEL_SCHEME = "redis+sentinel://"
SENTINEL_PORT = 26379


def _options() -> dict[str, Any]:
    return {
        "decode_responses": True,
        "retry": Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=12),
        "retry_on_error": [ConnectionError, TimeoutError, BusyLoadingError, ConnectionRefusedError],
        "health_check_interval": 15,
        "socket_connect_timeout": 2.0,
        "socket_keepalive": True,
    }


class _SentinelConnection(SentinelManagedConnection):
    """Asks the Sentinels where the primary is on every (re)connect.

    redis-py's class does that only in `connect()`, but commands reconnect through
    `connect_check_health()`, so after a failover its retries kept dialling the demoted primary
    and every write failed with READONLY (redis/redis-py#3874; tests/store/test_sentinel.py).
    """

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )


@dataclass(frozen=True)
class SentinelTarget:
    """Where the Sentinels are and which primary (`service`) to ask them for."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def _host_port(item: str) -> tuple[str, int]:
    host, port = item, ""
    if item.startswith("["):  # [ipv6]:port
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    elif ":" in item:
        host, _, port = item.rpartition(":")
    if not host:
        raise ValueError("a Sentinel address has no host")
    if port and not port.isdigit():
        raise ValueError(f"Sentinel port {port!r} is not a number")
    return host, int(port) if port else SENTINEL_PORT


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Parse a `redis+sentinel://` URL; errors never echo the URL (it may hold a password)."""
    if not url.startswith(SENTINEL_SCHEME):
        raise ValueError(f"a Sentinel URL starts with {SENTINEL_SCHEME}")
    rest, _, query = url[len(SENTINEL_SCHEME) :].partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    sentinels = tuple(_host_port(item) for item in hosts.split(",") if item)
    if not sentinels:
        raise ValueError("a Sentinel URL needs at least one host[:port]")
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ValueError("a Sentinel URL needs the monitored primary's name: …/<service>[/db]")
    if db and not db.isdigit():
        raise ValueError(f"database {db!r} is not a number")
    params = parse_qs(query)
    unknown = set(params) - {"sentinel_password"}
    if unknown:
        raise ValueError(f"unknown Sentinel URL parameter(s): {', '.join(sorted(unknown))}")
    sentinel_password = params.get("sentinel_password", [None])[-1]
    return SentinelTarget(
        sentinels=sentinels,
        service=unquote(service),
        db=int(db or 0),
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=sentinel_password,
    )


MAX_CONNECTIONS = 256
POOL_TIMEOUT_S = 10.0


def connect(
    url: str, max_connections: int = MAX_CONNECTIONS, pool_timeout_s: float = POOL_TIMEOUT_S
) -> redis.Redis:
    """A decode_responses client that rides out restarts (and failovers) for ~10 s."""
    if url.startswith(SENTINEL_SCHEME):
        target = parse_sentinel_url(url)
        sentinel_kwargs: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}
        if target.sentinel_password:
            sentinel_kwargs["password"] = target.sentinel_password
        # redis-py leaves Sentinel and master_for unannotated; master_for returns a Redis client.
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.sentinels), sentinel_kwargs=sentinel_kwargs
        )
        client: redis.Redis = sentinel.master_for(
            target.service,
            connection_class=_SentinelConnection,
            db=target.db,
            username=target.username,
            password=target.password,
            max_connections=max_connections,
            **_options(),
        )
        return client
    options = _options()
    if url.startswith("unix://"):  # TCP keepalive means nothing there (redis-py refuses it)
        options.pop("socket_keepalive")
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout_s, **options
    )
    return redis.Redis.from_pool(pool)
