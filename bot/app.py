"""Wiring only: settings → Redis → context/audit → wizard → Slack app → stages → web routes.

Read this file first. Every behaviour is one hop away:
- Slack events and `/wizard`: `bot/slack/listeners.py` (classify, enqueue, ack)
- who may use it, where, and change state: `bot/slack/access.py` (team gate, channels)
- dedup + durable queues: `bot/pipeline/intake.py`; job kinds: `bot/pipeline/jobs.py`; stage
  workers: `bot/pipeline/worker.py`
- fast jobs: `bot/pipeline/process.py`; alerts → incidents, summary card, resolution:
  `bot/pipeline/incident_flow.py` (state in `bot/incidents/store.py`, card in
  `bot/render/incident.py`, coalesced updates in `bot/pipeline/flusher.py`); buttons:
  `bot/pipeline/actions.py`
- analyses (every model call): `bot/pipeline/analysis.py`, bounded by `bot/pipeline/gate.py`
  and `bot/pipeline/budget.py`
- alert parsing: `bot/alerts/registry.py`; context: `bot/context/store.py`
- the LLM and its fallback: `bot/triage/wizard.py` (prompts, checks) over `bot/triage/llm.py` (the
  call: thinking, effort, stop reasons, deadline) and `bot/triage/providers.py` (Claude API,
  Bedrock, Vertex); prices: `bot/triage/prices.yaml`; the five parts: `bot/answer.py`;
  rendering: `bot/render/answer.py` (first screen + full plan)
- posting to Slack: `bot/slack/replies.py`; audit: `bot/audit/log.py`
- webhooks and health: `bot/web.py`; Redis keys: `bot/store/keys.py`
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import redis.asyncio as redis
import structlog
from aiohttp import web
from pydantic import BaseModel, SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.alertmanager_api import AlertmanagerClient
from bot.audit import anchor
from bot.audit.log import AuditLog
from bot.catalog import ServiceCatalog
from bot.context.pseudonyms import Pseudonyms, local_secret
from bot.context.store import ContextStore
from bot.context.trading import TradingContext
from bot.door import Door
from bot.evidence.loki import LokiClient
from bot.evidence.pack import EvidenceGatherer
from bot.evidence.tools import ToolBox, ToolSpecs
from bot.freeze import FreezeCalendar, FreezeStore
from bot.incidents.silences import SilenceClient, SilenceFlow
from bot.incidents.store import IncidentStore
from bot.market.sessions import MarketClock
from bot.pipeline.actions import IncidentActions
from bot.pipeline.analysis import Analyst
from bot.pipeline.budget import Limits, ModelBudget
from bot.pipeline.flusher import SummaryFlusher
from bot.pipeline.gate import ModelGate
from bot.pipeline.incident_flow import IncidentFlow
from bot.pipeline.intake import Intake
from bot.pipeline.process import Processor
from bot.pipeline.recording import Recorder
from bot.pipeline.worker import ANALYSIS, FAST, Worker, WorkerPool, ensure_group
from bot.redact import configure as configure_redaction
from bot.redact import detected_secrets
from bot.settings import ConfigError, Settings
from bot.slack.access import AccessPolicy
from bot.slack.client import make_web_client, slack_session
from bot.slack.listeners import SlackListeners
from bot.slack.replies import Replier
from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis
from bot.store.ledger import JobLedger
from bot.triage.facts import load_template as load_facts_template
from bot.triage.investigate import Investigator
from bot.triage.paths import PROMPTS_DIR, RUNBOOKS_DIR
from bot.triage.prompts import load_prompts
from bot.triage.providers import build_model_client
from bot.triage.runbooks import RunbookCatalog
from bot.triage.wizard import Wizard
from bot.web import WebDeps, build_web_app
from bot.yamldoc import DataFileError

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


def secret_text(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


def pseudonym_secret(settings: Settings) -> str:
    """`WIZARD_PSEUDONYM_KEY`, else a random key kept in a 0600 file in the data dir (never in
    Redis, so a dump or the AOF alone cannot be decrypted)."""
    if settings.pseudonym_key is not None and settings.pseudonym_key.get_secret_value():
        return settings.pseudonym_key.get_secret_value()
    return local_secret(settings.data_dir)


def build_wizard(settings: Settings, pseudonyms: Pseudonyms | None = None) -> Wizard:
    """The wizard with its prompts, runbooks and (when one is configured) the model client."""
    catalog = RunbookCatalog.load(settings.runbooks_dir or RUNBOOKS_DIR)
    runbook_base = str(settings.runbook_base_url).rstrip("/") if settings.runbook_base_url else None
    return Wizard(
        prompts=load_prompts(settings.prompts_dir),
        catalog=catalog,
        client=build_model_client(settings),
        memory_tokens=settings.thread_memory_tokens,
        runbook_base_url=runbook_base,
        pseudonyms=pseudonyms,
        allow_mass_mentions=settings.allow_mass_mentions,
        allowed_link_domains=settings.allowed_link_domains,
        facts_template=load_facts_template(settings.prompts_dir),
    )


def build_investigator(
    settings: Settings, wizard: Wizard, analyst: Analyst, pseudonyms: Pseudonyms
) -> Investigator | None:
    """Read-only tools for the model (`prompts/tools.yaml`), over the evidence pack's endpoints,
    Loki, and the bot's own deploy history, runbooks and incident memory."""
    if wizard.client is None or settings.tool_calls_max == 0:
        return None
    evidence = analyst.evidence
    incidents = analyst.incidents

    async def past(service: str, limit: int) -> Sequence[BaseModel]:
        return await incidents.past_outcomes(services=[service], fingerprints=[], limit=limit)

    tools = ToolBox(
        ToolSpecs.load((settings.prompts_dir or PROMPTS_DIR) / "tools.yaml"),
        prometheus=evidence.prometheus if evidence else None,
        alertmanager=evidence.alertmanager if evidence else None,
        loki=LokiClient(str(settings.loki_url)) if settings.loki_url else None,
        deploys=analyst.store.deploys_for,
        runbooks=wizard.catalog,
        past=past,
        pseudonyms=pseudonyms,
    )
    return Investigator(wizard.client, tools, max_calls=settings.tool_calls_max)


def build_freezes(settings: Settings, client: redis.Redis) -> FreezeStore:
    """Scheduled freezes (`WIZARD_FREEZES_PATH`) plus the manual one in Redis."""
    try:
        calendar = FreezeCalendar.load(settings.freezes_path)
    except DataFileError as exc:
        raise ConfigError(f"WIZARD_FREEZES_PATH is invalid: {exc}") from None
    return FreezeStore(client, calendar)


def build_trading_context(
    settings: Settings, runbooks: RunbookCatalog, freezes: FreezeStore, store: ContextStore
) -> TradingContext:
    """Service catalog + trading calendars (+ freezes): what the firm's own data says.

    Calendars for the catalog's venues are loaded now (exchange-calendars takes a moment per
    venue), not on the first alert at market open. A broken catalog stops start-up with one line.
    """
    try:
        services = ServiceCatalog.load(settings.catalog_path, {r.id for r in runbooks.all()})
    except DataFileError as exc:
        raise ConfigError(f"WIZARD_CATALOG_PATH is invalid: {exc}") from None
    return TradingContext(services, shared_clock(), freezes=freezes, deploys=store.deploys_for)


@functools.cache
def shared_clock() -> MarketClock:
    """One market clock per process: calendars are immutable data, and loading them takes
    seconds (exchange-calendars builds each venue's sessions), so every runtime shares them."""
    return MarketClock()


async def warm_calendars(trading: TradingContext) -> None:
    """Load the catalog venues' calendars off the event loop, before the first alert needs
    them (a blocked loop would delay every ack behind it)."""
    venues = {v for s in trading.catalog.all() for v in s.venues}
    seconds = await asyncio.to_thread(trading.clock.warm, venues, datetime.now(UTC))
    log.info("market_calendars_loaded", venues=sorted(venues), seconds=round(seconds, 3))


async def build_runtime(
    settings: Settings,
    *,
    workers: int | None = None,
    claim_idle_ms: int | None = None,
    claim_every_s: float | None = None,
    slack_token: str | None = None,
    role: str = "all",
    workers_alive: Callable[[], bool] | None = None,
) -> Runtime:
    """Assemble the bot. Starts the embedded Redis when `REDIS_URL` is unset.

    `role`: "all" (intake and workers in one process), "intake" (acks Slack and the hooks, runs
    no jobs: its event loop does nothing but ack, which keeps ack p99 flat under load) or
    "worker" (runs jobs and summary updates; serves only health and metrics).
    """
    # The data dir holds the audit copy, the pseudonym key and the embedded Redis: owner only.
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.data_dir, 0o700)
    client, embedded = await open_redis(settings)
    await ensure_group(client)
    # Load detect-secrets' plugins now (~200 ms), not inside the first request or job, where it
    # would stall the event loop and every ack queued behind it.
    detected_secrets("warm-up")
    store = ContextStore(client, deploy_window=timedelta(hours=settings.deploy_window_h))
    audit = AuditLog(
        client,
        settings.data_dir / "audit",
        key=anchor.key_for(secret_text(settings.audit_key), settings.data_dir),
        checkpoints=anchor.checkpoints_path(settings.data_dir),
    )
    configure_redaction(fix_tags=settings.redact_fix_tags)
    pseudonyms = Pseudonyms(client, pseudonym_secret(settings))
    intake = Intake(client, Door(pseudonyms))
    ledger = JobLedger(client)
    wizard = build_wizard(settings, pseudonyms)
    gate = ModelGate(settings.llm_concurrency)
    if wizard.client is not None:
        wizard.client.on_headers(gate.observe)  # every response's rate-limit headers
    catalog = wizard.catalog
    runbook_base = wizard.runbook_base_url
    token = slack_token or (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    )
    if token is None:
        raise ValueError("a Slack bot token is needed to build the runtime")
    session = slack_session()
    web_client = make_web_client(token, settings.slack_api_base, session=session)
    replier = Replier(web_client, ledger, pseudonyms)
    incidents = IncidentStore(
        client,
        group_by=settings.group_by,
        reopen_window=timedelta(minutes=settings.incident_reopen_m),
        summary_interval_s=settings.summary_interval_s,
    )
    recorder = Recorder(audit, ledger)
    freezes = build_freezes(settings, client)
    trading = build_trading_context(settings, catalog, freezes, store)
    await warm_calendars(trading)
    silencer = (
        AlertmanagerClient(str(settings.alertmanager_url)) if settings.alertmanager_url else None
    )
    silences = (
        SilenceFlow(client=silencer, store=store, incidents=incidents, redis_client=client)
        if silencer is not None
        else None
    )
    flow = IncidentFlow(
        store=store,
        incidents=incidents,
        intake=intake,
        replier=replier,
        recorder=recorder,
        enricher=trading,
        silences=silences,
    )
    actions = IncidentActions(
        flow=flow,
        store=store,
        incidents=incidents,
        replier=replier,
        recorder=recorder,
        runbooks=catalog,
        silences=silences,
        runbook_base_url=runbook_base,
    )
    processor = Processor(
        store=store,
        incidents=incidents,
        flow=flow,
        actions=actions,
        intake=intake,
        recorder=recorder,
        webhook_channel=settings.webhook_channel,
    )
    analyst = Analyst(
        store=store,
        incidents=incidents,
        wizard=wizard,
        replier=replier,
        recorder=recorder,
        gate=gate,
        budget=ModelBudget(
            client,
            Limits(
                settings.llm_max_per_incident,
                settings.llm_max_per_hour,
                settings.llm_max_per_user_hour,
            ),
        ),
        enricher=trading,
        evidence=EvidenceGatherer.from_settings(settings, trading.catalog),
    )
    wizard.investigator = build_investigator(settings, wizard, analyst, pseudonyms)
    flusher = SummaryFlusher(incidents, flow.refresh, per_minute=settings.summary_updates_per_min)
    bolt = AsyncApp(
        client=web_client,
        # Socket Mode needs no signing secret, but /slack/events is still served on the health
        # port: verify against a random secret then, so unsigned requests there get 401 instead
        # of being trusted. (Bolt skips the check for Socket Mode envelopes.)
        signing_secret=(
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else secrets.token_hex(32)
        ),
        request_verification_enabled=True,
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    access = AccessPolicy.from_settings(settings, web_client)
    SlackListeners(
        intake=intake,
        store=store,
        catalog=catalog,
        alert_channels=settings.alert_channels,
        runbook_base_url=runbook_base,
        policy=access,
        audit=audit,
        freezes=freezes,
        incidents=incidents,
    ).register(bolt)

    host = socket.gethostname()
    if claim_idle_ms is None:
        claim_idle_ms = int(settings.reclaim_idle_s * 1000)
    if claim_every_s is None:
        # look for orphans a few times per idle period, so recovery takes ~1.25 x the idle time
        claim_every_s = min(5.0, claim_idle_ms / 4000)
    fast_jobs = settings.workers if workers is None else workers
    prefix = f"{host}-{os.getpid()}"
    stage_workers = [
        Worker(
            client,
            f"{prefix}-0",
            processor,
            stage=FAST,
            concurrency=fast_jobs,
            claim_idle_ms=claim_idle_ms,
            claim_every_s=claim_every_s,
        ),
        Worker(
            client,
            f"{prefix}-a",
            analyst,
            stage=ANALYSIS,
            # Take in more than the gate lets through, so waiting analyses can say they wait.
            concurrency=2 * settings.llm_concurrency,
            claim_idle_ms=claim_idle_ms,
            claim_every_s=claim_every_s,
        ),
    ]
    pool = WorkerPool([] if role == "intake" else stage_workers)
    runtime = Runtime(
        settings=settings,
        redis=client,
        store=store,
        audit=audit,
        intake=intake,
        wizard=wizard,
        catalog=catalog,
        replier=replier,
        processor=processor,
        analyst=analyst,
        bolt=bolt,
        pool=pool,
        web_app=build_web_app(
            # explicit, no cycle
            WebDeps(settings, bolt, intake, store, audit, client, pool, workers_alive)
        ),
        access=access,
        embedded=embedded,
        incidents=incidents,
        flusher=flusher,
        silencer=silencer,
        slack_http=session,
    )
    pool.start()
    if role != "intake":
        flusher.start()
    return runtime
