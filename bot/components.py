"""One builder per component that settings configure: each says which settings it reads and
turns a bad data file into one `ConfigError` line. `bot/app.py` wires what these build.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import UTC, datetime

import redis.asyncio as redis
import structlog
from pydantic import BaseModel, SecretStr

from bot.catalog import ServiceCatalog
from bot.context.pseudonyms import Pseudonyms, local_secret
from bot.context.store import ContextStore
from bot.context.trading import TradingContext
from bot.evidence.loki import LokiClient
from bot.evidence.tools import ToolBox, ToolSpecs
from bot.freeze import FreezeCalendar, FreezeStore
from bot.market.sessions import MarketClock
from bot.pipeline.analysis import Analyst
from bot.settings import ConfigError, Settings
from bot.triage.facts import load_template as load_facts_template
from bot.triage.investigate import Investigator
from bot.triage.paths import PROMPTS_DIR, RUNBOOKS_DIR
from bot.triage.prompts import load_prompts
from bot.triage.providers import build_model_client
from bot.triage.runbooks import RunbookCatalog
from bot.triage.wizard import Wizard
from bot.yamldoc import DataFileError

log = structlog.get_logger(__name__)


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
