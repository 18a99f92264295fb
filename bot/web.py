"""HTTP routes: Slack's single endpoint, the two webhooks, and the health check.

`/slack/events` is handed to Bolt as is (Bolt checks the signature and the 5-minute window).
`/hooks/*` accept Alertmanager's webhook and CI deploy events behind a bearer token compared in
constant time; without `WIZARD_HOOK_TOKEN` they refuse to work rather than accept anyone's alerts.
Bad input gets a 4xx with a reason, never a 5xx.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import inbound, metrics
from bot.alerts.deliveries import delivery_id
from bot.alerts.registry import parse_alertmanager_webhook
from bot.audit.log import AuditLog
from bot.context.store import ContextStore
from bot.deploys import DeployIgnored, parse_deploy_payload
from bot.pipeline.intake import Intake, RedisFull, webhook_job_id
from bot.pipeline.jobs import WebhookJob
from bot.pipeline.worker import ANALYSIS, FAST, Stage, WorkerPool
from bot.settings import Settings

log = structlog.get_logger(__name__)

STUCK_AFTER_S = 300.0
"""A delivered job unacked this long means workers are wedged: not ready."""


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


@dataclass(frozen=True)
class WebDeps:
    """What the HTTP routes use, passed in explicitly: web.py needs nothing from app.py, and the
    app is built before the Runtime that holds it (no placeholder, no import cycle)."""

    settings: Settings
    bolt: AsyncApp
    intake: Intake
    store: ContextStore
    audit: AuditLog
    redis: Redis
    pool: WorkerPool
    workers_alive: Callable[[], bool] | None = None
    """For the intake child of `--role all` (`bot/pipeline/intake_process.py`): whether the
    parent's stage workers are alive, so /healthz and /readyz speak for the whole bot."""
    peer_metrics: Callable[[], Awaitable[bytes]] | None = None
    """The parent's metrics exposition, merged into this process's at scrape time."""

    def workers_ok(self) -> bool:
        """Every stage worker of this process alive (an intake-only process: none to check)."""
        peer = self.workers_alive() if self.workers_alive is not None else True
        return self.pool.alive and peer


def build_web_app(runtime: WebDeps) -> web.Application:
    """The routes; `runtime` is the part of the running bot they use (see WebDeps)."""
    settings = runtime.settings

    token = settings.hook_token.get_secret_value().strip() if settings.hook_token else ""

    def authorised(request: web.Request) -> web.Response | None:
        """An empty token refuses like an unset one; the whole header is compared at once, in
        constant time (no early exit on the scheme that would tell an attacker what is wrong)."""
        if not token:
            return _json_error(503, "hooks disabled: set WIZARD_HOOK_TOKEN on the bot")
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            log.warning("hook_unauthorised", path=request.path, remote=request.remote)
            return _json_error(401, "missing or wrong bearer token")
        return None

    async def read_json(request: web.Request) -> tuple[bytes, Any] | web.Response:
        try:
            body = await inbound.read_body(request)
            return body, inbound.hook_json(body)
        except inbound.Rejected as exc:
            log.warning("hook_body_rejected", path=request.path, status=exc.status, why=exc.reason)
            return exc.response()

    async def slack_events(request: web.Request) -> web.Response:
        try:
            # shape first: Bolt (and the listeners) would answer 500 to what they cannot read
            inbound.slack_body(request.headers, await inbound.read_body(request))
        except inbound.Rejected as exc:
            log.warning("slack_body_rejected", status=exc.status, why=exc.reason)
            return exc.response()
        try:
            bolt_request = await to_bolt_request(request)
        except Exception:
            # Bolt parses the body (and digs into it) before it checks the signature; a body it
            # cannot read (bad JSON, a JSON array, broken form data) is a 400, not a crash.
            log.warning("slack_body_unparseable", length=request.content_length)
            return _json_error(400, "body is not valid JSON or form data")
        body = bolt_request.body
        if body.get("type") == "event_callback" and not isinstance(body.get("event"), dict):
            # Bolt's middleware assumes `event` is an object and would answer 500.
            return _json_error(400, "event_callback without an event object")
        bolt_response = await runtime.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def alertmanager(request: web.Request) -> web.Response:
        if denied := authorised(request):
            return denied
        parsed = await read_json(request)
        if isinstance(parsed, web.Response):
            return parsed
        body, payload = parsed
        if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
            return _json_error(400, "not an Alertmanager webhook body (no alerts list)")
        alerts = parse_alertmanager_webhook(payload)
        received = datetime.now(UTC)
        job = WebhookJob(id=webhook_job_id(body, received), alerts=alerts, received_at=received)
        try:
            queued = await runtime.intake.submit_webhook(
                job,
                body,
                delivery=delivery_id(payload, body),
                window_s=settings.hook_redelivery_window_s,
            )
        except RedisFull as exc:
            return _json_error(503, str(exc))
        return web.json_response({"ok": True, "alerts": len(alerts), "duplicate": not queued})

    async def deploy(request: web.Request) -> web.Response:
        if denied := authorised(request):
            return denied
        parsed = await read_json(request)
        if isinstance(parsed, web.Response):
            return parsed
        try:
            # the door first: the deploy record, its audit record and the logs get scrubbed text
            event = parse_deploy_payload(await runtime.intake.door.scrub(parsed[1]))
        except DeployIgnored as exc:
            # acknowledged, not recorded: a pending or failed deploy changed nothing to roll back
            log.info("deploy_ignored", reason=str(exc))
            return web.json_response({"ok": True, "ignored": str(exc)}, status=202)
        except ValueError as exc:
            return _json_error(400, str(exc))
        await runtime.store.record_deploy(event)
        await runtime.audit.append("deploy", **event.model_dump(mode="json"))
        log.info("deploy_recorded", service=event.service, version=event.version)
        return web.json_response({"ok": True})

    async def healthz(_: web.Request) -> web.Response:
        try:
            redis_ok = bool(await runtime.redis.ping())
        except Exception:
            redis_ok = False
        workers_ok = runtime.workers_ok()
        status = 200 if redis_ok and workers_ok else 503
        return web.json_response({"redis": redis_ok, "workers": workers_ok}, status=status)

    async def queue_state(stage: Stage = FAST) -> tuple[int, int, float]:
        """(waiting, pending, oldest pending idle seconds) of one stage, straight from Redis."""
        groups = await runtime.redis.xinfo_groups(stage.stream)
        group = next((g for g in groups if g["name"] == stage.group), None)
        if group is None:
            return 0, 0, 0.0
        oldest = 0.0
        if group["pending"]:
            first = await runtime.redis.xpending_range(
                stage.stream, stage.group, min="-", max="+", count=1
            )
            oldest = float(first[0]["time_since_delivered"]) / 1000 if first else 0.0
        return int(group.get("lag") or 0), int(group["pending"]), oldest

    async def metrics_route(_: web.Request) -> web.Response:
        # Both stages, read at scrape time: the analysis stream fills while the model is slow
        # or rate-limited even when the fast stream is empty, and the HPA may scale on either.
        try:
            waiting, pending, oldest = await queue_state(FAST)
            metrics.QUEUE_LAG.set(waiting)
            metrics.QUEUE_PENDING.set(pending)
            metrics.QUEUE_OLDEST.set(oldest)
            waiting, pending, _oldest = await queue_state(ANALYSIS)
            metrics.ANALYSIS_LAG.set(waiting)
            metrics.ANALYSIS_PENDING.set(pending)
        except Exception:
            log.warning("metrics_queue_unreadable")
        body = metrics.exposition()
        if runtime.peer_metrics is not None:
            body = metrics.merged(body, await runtime.peer_metrics())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def readyz(_: web.Request) -> web.Response:
        """Ready = Redis answers, every worker task is alive, and the queue is moving."""
        checks: dict[str, bool] = {"workers": runtime.workers_ok()}
        try:
            checks["redis"] = bool(await runtime.redis.ping())
            oldest = (await queue_state())[2]
            checks["queue_moving"] = oldest < STUCK_AFTER_S
        except Exception:
            checks["redis"] = checks["queue_moving"] = False
        status = 200 if all(checks.values()) else 503
        return web.json_response(checks, status=status)

    app = web.Application(client_max_size=inbound.MAX_BODY)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_post("/hooks/alertmanager", alertmanager)
    app.router.add_post("/hooks/deploy", deploy)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    return app
