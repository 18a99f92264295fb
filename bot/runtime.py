"""What one running bot holds, and its lifecycle: serve HTTP or Socket Mode, then stop in order.

`bot/app.py` builds a `Runtime`; `wizard serve`, the demo, the intake process and the tests start
and stop it. The order of `stop` is the drain contract (intake first, then workers, then clients).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
import redis.asyncio as redis
import structlog
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.audit.log import AuditLog
from bot.context.store import ContextStore
from bot.incidents.silences import SilenceClient
from bot.incidents.store import IncidentStore
from bot.pipeline.analysis import Analyst
from bot.pipeline.flusher import SummaryFlusher
from bot.pipeline.intake import Intake
from bot.pipeline.process import Processor
from bot.pipeline.worker import WorkerPool
from bot.settings import Settings
from bot.slack.access import AccessPolicy
from bot.slack.replies import Replier
from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis
from bot.triage.runbooks import RunbookCatalog
from bot.triage.wizard import Wizard

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """Everything one running bot holds; `start`/`stop` own the lifecycle."""

    settings: Settings
    redis: redis.Redis
    store: ContextStore
    audit: AuditLog
    intake: Intake
    wizard: Wizard
    catalog: RunbookCatalog
    replier: Replier
    processor: Processor
    analyst: Analyst
    bolt: AsyncApp
    pool: WorkerPool
    web_app: web.Application
    access: AccessPolicy = field(default_factory=AccessPolicy)
    embedded: EmbeddedRedis | None = None
    incidents: IncidentStore | None = None
    flusher: SummaryFlusher | None = None
    silencer: SilenceClient | None = None
    slack_http: aiohttp.ClientSession | None = None
    socket_handler: AsyncSocketModeHandler | None = None
    _runner: web.AppRunner | None = field(default=None, repr=False)
    port: int | None = None

    @property
    def redis_url(self) -> str | None:
        """The Redis this runtime uses (the embedded server's, when it started one)."""
        return self.embedded.url if self.embedded is not None else self.settings.redis_url

    async def start_http(self, host: str = "0.0.0.0", port: int = 3000) -> int:  # noqa: S104
        """Serve `/slack/events`, `/hooks/*` and `/healthz`; returns the bound port."""
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("http_listening", host=host, port=self.port)
        return int(self.port)

    async def start_socket_mode(self, app_token: str, ping_interval: float = 10) -> None:
        """Connect over Socket Mode; the SDK client reconnects by itself when the socket drops
        (its monitor notices the missing pong within about `ping_interval` seconds)."""
        self.socket_handler = AsyncSocketModeHandler(
            self.bolt, app_token, ping_interval=ping_interval
        )
        await self.socket_handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt's
        log.info("socket_mode_connected")

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop taking work, then finish it: the Socket Mode connection and the HTTP server close
        first (Slack redelivers what it could not hand over; in-flight requests complete), then
        workers get `drain_s` to finish the job in hand before they are cancelled. A cancelled job
        stays pending in the stream and another worker re-runs it (idempotently) later."""
        if self.socket_handler is not None:
            await self.socket_handler.close_async()  # type: ignore[no-untyped-call]  # Bolt's
        if self._runner is not None:
            await self._runner.cleanup()
        await self.pool.stop(grace_s=drain_s)
        if self.flusher is not None:
            await self.flusher.stop()
        if self.wizard.client is not None:
            await self.wizard.client.close()  # the model client's connection pool
        if self.silencer is not None:
            await self.silencer.close()
        if self.analyst.evidence is not None:
            await self.analyst.evidence.close()
        if self.wizard.investigator is not None:
            await self.wizard.investigator.tools.close()
        if self.slack_http is not None:
            await self.slack_http.close()
        await self.redis.aclose()
        if self.embedded is not None:
            await self.embedded.stop()
        log.info("runtime_stopped")


async def open_redis(settings: Settings) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """Connect to `REDIS_URL`, or start the embedded server under the data dir."""
    embedded = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir / "redis", maxmemory=settings.redis_maxmemory)
        await embedded.start()
        redis_url = embedded.url
    return connect(redis_url), embedded
