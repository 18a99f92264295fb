"""Wiring only: settings → Redis → context/audit → wizard → Slack app → stages → web routes.

Read this file first. Every behaviour is one hop away:
- what a running bot holds and how it starts and stops: `bot/runtime.py`; the components that
  settings configure (wizard, investigator, freezes, trading context): `bot/components.py`
- Slack events: `bot/slack/listeners.py` (classify, enqueue, ack); `/wizard`:
  `bot/slack/commands.py`; buttons and feedback: `bot/slack/actions.py`
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

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from slack_bolt.async_app import AsyncApp

from bot.alertmanager_api import AlertmanagerClient
from bot.audit import anchor
from bot.audit.log import AuditLog
from bot.components import (
    build_freezes,
    build_investigator,
    build_trading_context,
    build_wizard,
    pseudonym_secret,
    secret_text,
    warm_calendars,
)
from bot.context.pseudonyms import Pseudonyms
from bot.context.store import ContextStore
from bot.door import Door
from bot.evidence.pack import EvidenceGatherer
from bot.incidents.silences import SilenceFlow
from bot.incidents.store import IncidentStore
from bot.pipeline.actions import IncidentActions
from bot.pipeline.analysis import Analyst
from bot.pipeline.budget import Limits, ModelBudget
from bot.pipeline.conversations import PrivateConversations
from bot.pipeline.flusher import SummaryFlusher
from bot.pipeline.gate import ModelGate
from bot.pipeline.incident_flow import IncidentFlow
from bot.pipeline.intake import Intake
from bot.pipeline.process import Processor
from bot.pipeline.recording import Recorder
from bot.pipeline.worker import ANALYSIS, FAST, Worker, WorkerPool, ensure_group
from bot.redact import configure as configure_redaction
from bot.redact import detected_secrets
from bot.runtime import Runtime, open_redis
from bot.settings import Settings
from bot.slack.access import AccessPolicy
from bot.slack.assistant import PrivateChat
from bot.slack.client import make_web_client, slack_session
from bot.slack.listeners import SlackListeners
from bot.slack.replies import Replier
from bot.store.ledger import JobLedger
from bot.web import WebDeps, build_web_app

__all__ = ["Runtime", "build_runtime"]  # `Runtime` is re-exported: callers import it from here

log = structlog.get_logger(__name__)


async def build_runtime(
    settings: Settings,
    *,
    workers: int | None = None,
    claim_idle_ms: int | None = None,
    claim_every_s: float | None = None,
    slack_token: str | None = None,
    role: str = "all",
    workers_alive: Callable[[], bool] | None = None,
    peer_metrics: Callable[[], Awaitable[bytes]] | None = None,
) -> Runtime:
    """Assemble the bot. Starts the embedded Redis when `REDIS_URL` is unset.

    `role`: "all" (intake and workers in one process), "intake" (acks Slack and the hooks, runs
    no jobs: its event loop does nothing but ack, which keeps ack p99 flat under load) or
    "worker" (runs jobs and summary updates; serves only health and metrics), or one of its two
    stages alone: "fast" (parse, incidents, cards, summary updates) or "analysis" (every model
    call), so the model-call stage scales on its own queue (`wizard_analysis_waiting`).
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
    incidents = IncidentStore(
        client,
        group_by=settings.group_by,
        reopen_window=timedelta(minutes=settings.incident_reopen_m),
        summary_interval_s=settings.summary_interval_s,
        summary_quiet_s=settings.summary_quiet_s,
        summary_updates_per_min=settings.summary_updates_per_min,
    )
    session = slack_session()
    web_client = make_web_client(
        token,
        settings.slack_api_base,
        session=session,
        on_rate_limited=incidents.summaries.on_slack_limit,  # a 429 pauses every replica
    )
    replier = Replier(web_client, ledger, pseudonyms)
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
    access = AccessPolicy.from_settings(settings, web_client)
    processor = Processor(
        store=store,
        incidents=incidents,
        flow=flow,
        actions=actions,
        intake=intake,
        recorder=recorder,
        webhook_channel=settings.webhook_channel,
        conversations=PrivateConversations(
            policy=access, replier=replier, recorder=recorder, incidents=incidents
        ),
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
    flusher = SummaryFlusher(incidents, flow.refresh)
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
    chat = PrivateChat(intake=intake, store=store)
    chat.register_dm(bolt)  # before the channel listeners' catch-all message listener
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
    chat.register(bolt)  # the assistant pane's middleware, after the team gate

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
    stages = {"intake": [], "fast": stage_workers[:1], "analysis": stage_workers[1:]}
    pool = WorkerPool(stages.get(role, stage_workers))
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
            WebDeps(settings, bolt, intake, store, audit, client, pool, workers_alive, peer_metrics)
        ),
        access=access,
        embedded=embedded,
        incidents=incidents,
        flusher=flusher,
        silencer=silencer,
        slack_http=session,
    )
    pool.start()
    if role not in ("intake", "analysis"):  # card updates belong to the fast stage
        flusher.start()
    return runtime
