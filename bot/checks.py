"""`wizard check`, and the start-up checks of `wizard serve`: is this deployment able to work?

An operator's mistakes should surface as one line naming the setting, in seconds, before the
first alert of the day: an unreachable `REDIS_URL` (redis-py would retry for ~20 s, then print a
traceback), a revoked bot token, an alert channel the bot was never invited to (it would never
see an alert), a model id the key cannot use, a catalog with a typo. Each check returns one
`Check`; `wizard check` prints them all and exits 1 if any failed, `wizard serve` stops at the
first failure with exit 2. Checks never print a secret: URLs are shown without their password.

Only configured endpoints are contacted, each with a short deadline and no retries.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from bot.settings import Settings

Status = Literal["ok", "warn", "fail", "skip"]
TIMEOUT_S = 5.0
"""Per check: long enough for a slow network, short enough that `serve` fails fast."""

_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


@dataclass(frozen=True)
class Check:
    """One line of `wizard check`: what was checked, how it went, and what to do about it."""

    name: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def line(self) -> str:
        return f"{_MARK[self.status]} {self.name:<10} {self.detail}"


def safe_url(url: str) -> str:
    """`url` without its password (Redis and monitoring URLs may carry credentials)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- the checks ----------------------------------------------------------------------------------


def check_data_dir(settings: Settings) -> Check:
    path = settings.data_dir.resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Check("data", "fail", f"WIZARD_DATA_DIR={path} cannot be created: {exc.strerror}")
    if not os.access(path, os.W_OK):
        return Check("data", "fail", f"WIZARD_DATA_DIR={path} is not writable by this user")
    return Check("data", "ok", f"WIZARD_DATA_DIR={path} (audit copy, embedded Redis)")


async def check_redis(settings: Settings) -> Check:
    """PING with a 2 s connect timeout and no retries; embedded mode only needs the binary."""
    if settings.redis_url is None:
        from bot.store.embedded import EmbeddedRedisError, find_server_binary

        try:
            binary = find_server_binary()
        except EmbeddedRedisError as exc:
            return Check("redis", "fail", f"REDIS_URL is unset and {exc}")
        where = settings.data_dir.resolve() / "redis"
        return Check("redis", "ok", f"REDIS_URL unset: embedded server {binary.name}, data {where}")
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from bot.store.connection import SENTINEL_SCHEME, connect

    shown = safe_url(settings.redis_url)
    if settings.redis_url.startswith(SENTINEL_SCHEME):
        client = connect(settings.redis_url)
    else:
        client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=2.0,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 0),
        )
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await client.ping()
            info = await client.info("server")
    except Exception as exc:
        return Check("redis", "fail", f"REDIS_URL={shown} is unreachable: {_reason(exc)}")
    finally:
        await client.aclose()
    server = "valkey" if info.get("server_name") == "valkey" else "redis"
    version = info.get("valkey_version") or info.get("redis_version") or "?"
    return Check("redis", "ok", f"REDIS_URL={shown} answers ({server} {version})")


async def check_slack(settings: Settings) -> list[Check]:
    """`auth.test`, then `conversations.info` for every configured channel: is the bot in it?"""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    if settings.slack_bot_token is None:
        return [Check("slack", "fail", "SLACK_BOT_TOKEN is not set: set the app's xoxb- token")]
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base,
        timeout=int(TIMEOUT_S),
    )
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        return [Check("slack", "fail", f"SLACK_BOT_TOKEN was refused: auth.test says {error}")]
    except Exception as exc:
        api = settings.slack_api_base
        return [Check("slack", "fail", f"SLACK_API_URL={api} is unreachable: {_reason(exc)}")]
    team, user = auth.get("team_id"), auth.get("user_id")
    checks = [Check("slack", "ok", f"SLACK_BOT_TOKEN: auth.test ok, bot {user} in team {team}")]
    if settings.allowed_team_ids and team not in settings.allowed_team_ids:
        checks.append(
            Check("slack", "fail", f"WIZARD_ALLOWED_TEAM_IDS does not include this token's {team}")
        )
    channels = {
        "WIZARD_ALERT_CHANNELS": sorted(settings.alert_channels),
        "WIZARD_COMMAND_CHANNELS": sorted(settings.command_channels),
        "WIZARD_WEBHOOK_CHANNEL": [settings.webhook_channel] if settings.webhook_channel else [],
    }
    if not settings.alert_channels:
        checks.append(
            Check(
                "channels",
                "warn",
                "WIZARD_ALERT_CHANNELS is empty: no channel is auto-triaged (webhooks only)",
            )
        )
    for setting, ids in channels.items():
        for channel in ids:
            checks.append(await _membership(client, setting, channel))
    return checks


async def _membership(client: Any, setting: str, channel: str) -> Check:
    from slack_sdk.errors import SlackApiError

    try:
        info = await client.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "missing_scope":
            return Check(
                "channels",
                "warn",
                f"{setting}: {channel} not checked, the token lacks channels:read/groups:read "
                "(slack-app-manifest.yaml has them)",
            )
        return Check(
            "channels",
            "fail",
            f"{setting}: {channel} is not a channel the bot can see ({error}); "
            "use the id from the channel's About tab and invite the bot",
        )
    except Exception as exc:
        return Check("channels", "fail", f"{setting}: {channel} not checked: {_reason(exc)}")
    found = info.get("channel") or {}
    name = found.get("name") or channel
    if not found.get("is_member"):
        return Check(
            "channels",
            "fail",
            f"{setting}: the bot is not a member of {channel} (#{name}): /invite it there",
        )
    return Check("channels", "ok", f"{setting}: {channel} (#{name}), the bot is a member")


async def check_model(settings: Settings) -> Check:
    """`models.retrieve(WIZARD_MODEL)` through the serve path's own model check
    (bot/triage/providers.py): a model this key cannot use, or a refused key, is a failure; so is
    an unreachable API here (serve only warns about that and falls back to runbooks)."""
    from bot.settings import ConfigError
    from bot.triage.providers import build_model_client, check_model

    client = build_model_client(settings)
    if client is None:
        return Check("model", "skip", "ANTHROPIC_API_KEY unset: answers come from the runbooks")
    try:
        checked = await check_model(client)
    except ConfigError as exc:
        return Check("model", "fail", str(exc))
    finally:
        await client.close()
    if checked:
        return Check("model", "ok", f"WIZARD_MODEL={client.model} ({client.provider})")
    if client.provider != "anthropic":
        return Check(
            "model", "skip", f"WIZARD_MODEL={client.model}: {client.provider} has no models API"
        )
    where = "ANTHROPIC_BASE_URL" if settings.anthropic_base_url else "the Anthropic API"
    return Check("model", "fail", f"{where} is unreachable: WIZARD_MODEL not checked")


def check_data_files(settings: Settings) -> list[Check]:
    """Prompts, runbooks, service catalog and freeze calendar parse (each error has its line)."""
    from bot.catalog import ServiceCatalog
    from bot.freeze import FreezeCalendar
    from bot.triage.paths import RUNBOOKS_DIR
    from bot.triage.prompts import load_prompts
    from bot.triage.runbooks import RunbookCatalog

    checks: list[Check] = []
    runbook_dir = settings.runbooks_dir or RUNBOOKS_DIR
    try:
        load_prompts(settings.prompts_dir)
        runbooks = RunbookCatalog.load(runbook_dir)
    except Exception as exc:
        setting = "WIZARD_RUNBOOKS_DIR" if "runbook" in str(exc).lower() else "WIZARD_PROMPTS_DIR"
        return [Check("runbooks", "fail", f"{setting} is invalid: {_reason(exc)}")]
    checks.append(Check("runbooks", "ok", f"{len(runbooks.all())} runbooks in {runbook_dir}"))
    loaders: list[tuple[str, str, Path, Callable[[], object]]] = [
        (
            "catalog",
            "WIZARD_CATALOG_PATH",
            settings.catalog_path,
            lambda: ServiceCatalog.load(settings.catalog_path, {r.id for r in runbooks.all()}),
        ),
        (
            "freezes",
            "WIZARD_FREEZES_PATH",
            settings.freezes_path,
            lambda: FreezeCalendar.load(settings.freezes_path),
        ),
    ]
    for name, setting, path, load in loaders:
        if not path.exists():
            checks.append(Check(name, "warn", f"{setting}={path} is missing (treated as empty)"))
            continue
        try:
            load()
        except Exception as exc:
            checks.append(Check(name, "fail", f"{setting}={path} is invalid: {_reason(exc)}"))
            continue
        checks.append(Check(name, "ok", f"{setting}={path}"))
    return checks


MONITORING_READY = {
    "ALERTMANAGER_URL": "/-/ready",
    "PROMETHEUS_URL": "/-/ready",
    "LOKI_URL": "/ready",
}
"""Monitoring settings (those this version has) and each system's own readiness endpoint."""


async def check_monitoring(settings: Settings) -> list[Check]:
    import aiohttp

    configured: list[tuple[str, str]] = []
    for name, field in type(settings).model_fields.items():
        if field.alias in MONITORING_READY and getattr(settings, name) is not None:
            configured.append((field.alias, str(getattr(settings, name))))
    checks: list[Check] = []
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for setting, url in configured:
            probe = url.rstrip("/") + MONITORING_READY[setting]
            shown = safe_url(url)
            try:
                async with session.get(probe, allow_redirects=False) as response:
                    status = response.status
            except Exception as exc:
                checks.append(Check("monitoring", "fail", f"{setting}={shown}: {_reason(exc)}"))
                continue
            if status >= 400:
                detail = f"{setting}={shown}: {MONITORING_READY[setting]} answered HTTP {status}"
                checks.append(Check("monitoring", "fail", detail))
            else:
                checks.append(Check("monitoring", "ok", f"{setting}={shown} is ready"))
    return checks


# --- entry points --------------------------------------------------------------------------------


async def run_checks(settings: Settings) -> list[Check]:
    """Everything `wizard check` looks at, in the order an operator would fix it."""
    checks = [check_data_dir(settings), await check_redis(settings)]
    checks += await check_slack(settings)
    checks.append(await check_model(settings))
    checks += check_data_files(settings)
    checks += await check_monitoring(settings)
    return checks


async def preflight(settings: Settings) -> list[Check]:
    """`wizard serve`'s start-up checks; raises ConfigError with the first failure's line.

    Monitoring endpoints only warn here: the bot answers (with less evidence) when Prometheus
    is down, and must not stay down because of it. The model has its own start-up check in the
    serve path (an unreachable API is a warning there too, a wrong model id is fatal).
    """
    done: list[Check] = []
    _stop_at_failure(done, [check_data_dir(settings)])
    _stop_at_failure(done, [await check_redis(settings)])
    _stop_at_failure(done, await check_slack(settings))
    _stop_at_failure(done, check_data_files(settings))
    for check in await check_monitoring(settings):
        done.append(Check(check.name, "warn", check.detail) if check.failed else check)
    return done


def _stop_at_failure(done: list[Check], checks: list[Check]) -> None:
    from bot.settings import ConfigError

    for check in checks:
        if check.failed:
            raise ConfigError(check.detail)
        done.append(check)
