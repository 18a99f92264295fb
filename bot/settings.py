"""The one place that reads the environment.

Every knob the bot has is a field here, read from the process environment and an optional `.env`
file by pydantic-settings. A bad value fails at start-up with one line naming the variable, instead
of failing at 09:29:59 on the first alert of the day.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "claude-sonnet-5-5"
"""Pinned, not discovered: a package upgrade must never change which model production calls.
Checked at `wizard serve` start-up with `models.retrieve` (bot/triage/providers.py)."""


CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
"""Slack conversation ids: public (C…), private (G… on older workspaces), direct (D…)."""


class ConfigError(Exception):
    """A setting is missing or invalid; the message is the one line an operator needs."""


class Settings(BaseSettings):
    """Environment-driven configuration. Field aliases are the documented variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://slack.com/api/"), alias="SLACK_API_URL"
    )
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: AnyHttpUrl | None = Field(default=None, alias="ANTHROPIC_BASE_URL")
    wizard_model: str = Field(default=DEFAULT_MODEL, alias="WIZARD_MODEL", min_length=1)
    llm_provider: Literal["anthropic", "bedrock", "vertex"] = Field(
        default="anthropic", alias="WIZARD_LLM_PROVIDER"
    )
    """Where the model runs: the Claude API, Amazon Bedrock or Google Vertex AI (data residency)."""
    aws_region: str | None = Field(default=None, alias="AWS_REGION")
    bedrock_base_url: AnyHttpUrl | None = Field(default=None, alias="ANTHROPIC_BEDROCK_BASE_URL")
    """Bedrock: region (credentials come from the usual AWS chain: env, profile, instance role);
    the base URL is for VPC endpoints and tests."""
    vertex_project_id: str | None = Field(default=None, alias="ANTHROPIC_VERTEX_PROJECT_ID")
    vertex_region: str | None = Field(default=None, alias="CLOUD_ML_REGION")
    vertex_base_url: AnyHttpUrl | None = Field(default=None, alias="ANTHROPIC_VERTEX_BASE_URL")
    vertex_access_token: SecretStr | None = Field(default=None, alias="WIZARD_VERTEX_ACCESS_TOKEN")
    """Vertex: project and region; credentials from Application Default Credentials unless a
    short-lived access token is given (tests, or tokens minted by a sidecar)."""
    effort: Literal["low", "medium", "high", "xhigh", "max"] = Field(
        default="low", alias="WIZARD_EFFORT"
    )
    """How much the model thinks (`output_config.effort`, adaptive thinking). Low, not the model's
    default high: thinking comes before the answer, and the first triage must land inside
    WIZARD_LLM_DEADLINE_S (README "Model providers")."""
    alert_channels: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="WIZARD_ALERT_CHANNELS"
    )
    command_channels: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="WIZARD_COMMAND_CHANNELS"
    )
    """Where `/wizard` and new mentions are answered; empty means every channel."""
    allowed_team_ids: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="WIZARD_ALLOWED_TEAM_IDS"
    )
    """Team/enterprise ids whose requests are served; empty means any the app is installed in."""
    privileged_users: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="WIZARD_PRIVILEGED_USERS"
    )
    privileged_groups: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="WIZARD_PRIVILEGED_GROUPS"
    )
    """User ids and user-group ids allowed to run state-changing commands (freeze, buttons)."""
    allowed_link_domains: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="WIZARD_ALLOWED_LINK_DOMAINS"
    )
    """Domains (and their subdomains) the wizard's answers may link to, besides the alert's own
    links and the runbook base URL; every other link in a model answer is dropped."""
    allow_mass_mentions: bool = Field(default=False, alias="WIZARD_ALLOW_MASS_MENTIONS")
    webhook_channel: str | None = Field(default=None, alias="WIZARD_WEBHOOK_CHANNEL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    redis_maxmemory: str = Field(
        default="1gb", alias="WIZARD_REDIS_MAXMEMORY", pattern=r"^[1-9][0-9]*(?:[kmg]b?)?$"
    )
    """The embedded Redis's `maxmemory` (noeviction: when full, writes fail loudly)."""
    data_dir: Path = Field(default=Path(".wizard-data"), alias="WIZARD_DATA_DIR")
    llm_deadline_s: float = Field(default=25.0, alias="WIZARD_LLM_DEADLINE_S", gt=0, le=600)
    llm_max_tokens: int = Field(default=16000, alias="WIZARD_LLM_MAX_TOKENS", ge=1024, le=128000)
    """Thinking tokens count toward it: room for adaptive thinking plus a ~2-3k-token answer."""
    llm_attempt_timeout_s: float | None = Field(
        default=None, alias="WIZARD_LLM_ATTEMPT_TIMEOUT_S", gt=0, le=600
    )
    """One HTTP attempt's read limit (unset: the deadline). Connecting is limited to 3 s, so a
    refused or reset connection is retried inside the deadline. The read limit is not shorter by
    default: a non-streaming answer sends nothing until it is done, so a shorter limit turns every
    slow but valid answer into a fallback (bench/effort_latency.py measured exactly that)."""
    llm_max_retries: int = Field(default=2, alias="WIZARD_LLM_MAX_RETRIES", ge=0, le=10)
    hook_token: SecretStr | None = Field(default=None, alias="WIZARD_HOOK_TOKEN")
    """Bearer token for /hooks/*; unset or empty turns the hooks off (503)."""
    audit_key: SecretStr | None = Field(default=None, alias="WIZARD_AUDIT_KEY")
    """Secret keyed into every audit link (HMAC) and checkpoint; unset = `<data dir>/audit.key`."""
    audit_keys_retired: SecretStr | None = Field(default=None, alias="WIZARD_AUDIT_KEYS_RETIRED")
    """Earlier audit keys, comma separated: verify still checks the links they made."""
    pseudonym_key: SecretStr | None = Field(default=None, alias="WIZARD_PSEUDONYM_KEY")
    """Secret that encrypts the pseudonym map (AES-GCM) and keys its tokens; unset = a random
    key in `<data dir>/pseudonym.key` (0600), fine for one host, not for replicas."""
    redact_fix_tags: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(1, 11, 37, 41, 448, 49, 56, 50, 57, 109, 79), alias="WIZARD_REDACT_FIX_TAGS"
    )
    """FIX tags whose values are pseudonymised (account, order and party ids, comp ids)."""
    hook_redelivery_window_s: int = Field(
        default=60, alias="WIZARD_HOOK_REDELIVERY_WINDOW_S", ge=1, le=3600
    )
    """A webhook body identical to one seen this recently is a re-delivery (a retry), not a new
    notification; keep it below Alertmanager's repeat_interval so repeats are counted."""
    runbook_base_url: AnyHttpUrl | None = Field(default=None, alias="WIZARD_RUNBOOK_BASE_URL")
    prompts_dir: Path | None = Field(default=None, alias="WIZARD_PROMPTS_DIR")
    runbooks_dir: Path | None = Field(default=None, alias="WIZARD_RUNBOOKS_DIR")
    workers: int = Field(default=16, alias="WIZARD_WORKERS", ge=1, le=64)
    """Fast jobs (parse, incident bookkeeping, cards, routing) run side by side per process.
    They never wait on the model, so this does not bound analyses (`WIZARD_LLM_CONCURRENCY`
    does); it only overlaps their Redis and Slack round trips."""
    worker_priority: Literal["idle", "low", "normal"] = Field(
        default="idle", alias="WIZARD_WORKER_PRIORITY"
    )
    """CPU priority of the stage workers in a one-process `wizard serve` (`--role all`): `idle`
    (SCHED_IDLE: they run when the intake leaves a core free), `low` (nice 10) or `normal`.
    Acks first: Slack retries (and flags the app) past 3 s, a job can wait; see
    bot/pipeline/priority.py. Other roles keep their priority."""
    llm_concurrency: int = Field(default=64, alias="WIZARD_LLM_CONCURRENCY", ge=1, le=1024)
    """Model calls in flight per process (the analysis stage's bound, with the API's
    rate-limit headers); an analysis past it waits, and says so in its thread."""
    deploy_window_h: float = Field(default=24.0, alias="WIZARD_DEPLOY_WINDOW_H", gt=0)
    thread_memory_tokens: int = Field(
        default=6000, alias="WIZARD_THREAD_MEMORY_TOKENS", ge=500, le=100000
    )
    audit_retention_days: int = Field(default=2557, alias="WIZARD_AUDIT_RETENTION_DAYS", ge=1)
    """How long audit records must be kept (default 7 years); nothing deletes records younger."""
    log_level: str = Field(default="INFO", alias="WIZARD_LOG_LEVEL")
    catalog_path: Path = Field(default=Path("catalog.yaml"), alias="WIZARD_CATALOG_PATH")
    """Service catalog (owners, tiers, venues, dependencies); a missing file is an empty one."""
    freezes_path: Path = Field(default=Path("freezes.yaml"), alias="WIZARD_FREEZES_PATH")
    """Change-freeze calendar; a missing file means no scheduled freezes (manual ones still do)."""
    alertmanager_url: AnyHttpUrl | None = Field(default=None, alias="ALERTMANAGER_URL")
    """Alertmanager's base URL (e.g. http://alertmanager:9093) for silences; unset = no silences."""
    prometheus_url: AnyHttpUrl | None = Field(default=None, alias="PROMETHEUS_URL")
    """Base URL of the Prometheus HTTP API the evidence pack and the model's tools query (the
    only Prometheus contacted, with catalog.yaml's per-environment ones); unset = no readings."""
    prometheus_bearer_token: SecretStr | None = Field(default=None, alias="PROMETHEUS_BEARER_TOKEN")
    prometheus_username: str | None = Field(default=None, alias="PROMETHEUS_USERNAME")
    prometheus_password: SecretStr | None = Field(default=None, alias="PROMETHEUS_PASSWORD")
    """Optional auth for every configured Prometheus: a bearer token, or basic auth."""
    loki_url: AnyHttpUrl | None = Field(default=None, alias="LOKI_URL")
    """Base URL of Loki's HTTP API for the model's `logs_query` tool; unset = no log queries."""
    evidence_budget_s: float = Field(default=2.0, alias="WIZARD_EVIDENCE_BUDGET_S", gt=0, le=10)
    """The whole evidence pack's time budget; each source gets at most 3/4 of it."""
    tool_calls_max: int = Field(default=8, alias="WIZARD_TOOL_CALLS_MAX", ge=0, le=50)
    """Read-only tool calls the model may make per analysis (0 = no tools)."""
    reclaim_idle_s: float = Field(default=60.0, alias="WIZARD_RECLAIM_IDLE_S", gt=0, le=3600)
    """How long a delivered job may sit unacked, with no worker renewing its lease, before
    another worker (in any replica) takes it over: the time to recover from a crashed process.
    Workers renew the lease of the job they are running, so a slow job is never taken over."""
    group_by: Literal["service", "alertname", "fingerprint"] = Field(
        default="service", alias="WIZARD_GROUP_BY"
    )
    """How alerts without an Alertmanager group key are grouped into incidents."""
    incident_reopen_m: float = Field(default=15.0, alias="WIZARD_INCIDENT_REOPEN_M", ge=0)
    """A resolved incident that fires again within this many minutes is reopened (flapping),
    not replaced by a new incident and thread."""
    llm_max_per_incident: int = Field(default=3, alias="WIZARD_LLM_MAX_PER_INCIDENT", ge=0)
    llm_max_per_hour: int = Field(default=60, alias="WIZARD_LLM_MAX_PER_HOUR", ge=0)
    llm_max_per_user_hour: int = Field(default=20, alias="WIZARD_LLM_MAX_PER_USER_HOUR", ge=0)
    """Model answers one person's follow-ups and `/wizard` questions may use per hour (they
    also draw from `WIZARD_LLM_MAX_PER_HOUR`)."""
    summary_interval_s: float = Field(default=5.0, alias="WIZARD_SUMMARY_INTERVAL_S", ge=0)
    summary_quiet_s: float = Field(default=1.0, alias="WIZARD_SUMMARY_QUIET_S", ge=0)
    """A changed summary waits until its incident had no new alert for this long (at most
    3 × WIZARD_SUMMARY_INTERVAL_S), so a storm spends Slack's budget on final states."""
    summary_updates_per_min: int = Field(
        default=40, alias="WIZARD_SUMMARY_UPDATES_PER_MIN", ge=1, le=600
    )

    @field_validator(
        "alert_channels",
        "command_channels",
        "allowed_team_ids",
        "privileged_users",
        "privileged_groups",
        "allowed_link_domains",
        mode="before",
    )
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept `C1,C2 C3` as operators write id lists in an env file."""
        if isinstance(value, str):
            return frozenset(part for part in value.replace(",", " ").split() if part)
        return value

    @field_validator("redact_fix_tags", mode="before")
    @classmethod
    def _split_tags(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(",", " ").split() if part)
        return value

    @field_validator("alert_channels", "command_channels", "webhook_channel")
    @classmethod
    def _check_channel_ids(cls, value: frozenset[str] | str | None) -> frozenset[str] | str | None:
        """Channel *ids* (C0123ABCD), not names: `#alerts` or `C1;C2` would be accepted as
        ids that no event ever carries, and the bot would silently never triage."""
        for channel in [value] if isinstance(value, str) else value or ():
            if not CHANNEL_ID.fullmatch(channel):
                raise ValueError(
                    f"{channel!r} is not a Slack channel id (like C0123ABCD: the channel's "
                    "About tab shows it; separate several with commas or spaces)"
                )
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value.startswith("redis+sentinel://"):
            from bot.store.connection import parse_sentinel_url

            parse_sentinel_url(value)  # a malformed one fails here, with the reason
            return value
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _check_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @property
    def slack_api_base(self) -> str:
        """The Web API base URL with the trailing slash slack-sdk needs."""
        url = str(self.slack_api_url)
        return url if url.endswith("/") else url + "/"

    @property
    def llm_attempt_s(self) -> float:
        """The per-attempt timeout actually used: never longer than the whole deadline."""
        return min(self.llm_attempt_timeout_s or self.llm_deadline_s, self.llm_deadline_s)

    def require_slack(self, socket_mode: bool) -> None:
        """Fail fast with one line when `serve` lacks what Slack needs in the chosen mode."""
        if self.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is not set: set it to the app's xoxb- bot token")
        if socket_mode and self.slack_app_token is None:
            raise ConfigError(
                "SLACK_APP_TOKEN is not set: set it to an xapp- token with connections:write "
                "for Socket Mode"
            )
        if not socket_mode and self.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: set it to the app's signing secret "
                "(Basic Information page) for HTTP mode"
            )


_ALIASES = {name: field.alias or name for name, field in Settings.model_fields.items()}


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's multi-line report into one actionable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = str(err["loc"][0]) if err["loc"] else "settings"
        variable = _ALIASES.get(loc, loc)
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{variable} is invalid: {message}; fix or unset it") from None
