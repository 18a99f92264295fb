"""Which API the model runs behind — the Claude API, Amazon Bedrock or Google Vertex AI — and
the start-up check that the configured model is really there.

Trading firms with data-residency rules run Claude inside their own cloud account; the official
SDK has a client for each (`AsyncAnthropic`, `AsyncAnthropicBedrock`, `AsyncAnthropicVertex`) with
the same `messages` API, so everything above this module is provider-agnostic. Each client gets:
a per-attempt timeout (`httpx2.Timeout`: 3 s to connect, so refused or reset connections are
retried inside WIZARD_LLM_DEADLINE_S; the read limit is WIZARD_LLM_ATTEMPT_TIMEOUT_S, by default
the deadline — see Settings), `max_retries`, and the model client's middleware (header relay).

Model ids per provider: WIZARD_MODEL is sent as written, except that a bare Claude API id on
Bedrock gets Bedrock's `anthropic.` prefix (`claude-sonnet-5-5` → `anthropic.claude-sonnet-5-5`);
set a cross-region inference profile explicitly (`us.anthropic.claude-sonnet-5-5`). Vertex uses
the Claude API ids for current models (`claude-sonnet-5-5`; older ones carry `@date`).
"""

from __future__ import annotations

import importlib.util

import anthropic
import httpx2
import structlog

from bot.settings import ConfigError, Settings
from bot.triage.llm import ModelClient, SdkClient

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 3.0
EXTRAS = {"bedrock": "botocore", "vertex": "google.auth"}


def provider_model_id(provider: str, model: str) -> str:
    """The id the provider's API expects for WIZARD_MODEL (see the module docstring)."""
    if provider == "bedrock" and model.startswith("claude-"):
        return f"anthropic.{model}"
    return model


def _need_extra(provider: str, needed: bool = True) -> None:
    module = EXTRAS[provider]
    if needed and importlib.util.find_spec(module.split(".")[0]) is None:
        raise ConfigError(
            f"WIZARD_LLM_PROVIDER={provider} needs the '{provider}' extra ({module}): "
            f"pip install 'infrastructure-wizard[{provider}]'"
        )


def _sdk(settings: Settings, client: ModelClient) -> SdkClient:
    attempt = settings.llm_attempt_s
    timeout = httpx2.Timeout(attempt, connect=min(CONNECT_TIMEOUT_S, attempt))
    retries = settings.llm_max_retries
    relay = [client.middleware]
    if settings.llm_provider == "bedrock":
        _need_extra("bedrock")
        region = settings.aws_region
        if not region:
            raise ConfigError("AWS_REGION is not set: Bedrock needs the region of its endpoint")
        base = settings.bedrock_base_url
        return anthropic.AsyncAnthropicBedrock(
            aws_region=region,
            base_url=str(base).rstrip("/") if base else None,
            timeout=timeout,
            max_retries=retries,
            middleware=relay,
        )
    if settings.llm_provider == "vertex":
        token = settings.vertex_access_token
        _need_extra("vertex", needed=token is None)
        if not settings.vertex_region:
            raise ConfigError("CLOUD_ML_REGION is not set: Vertex AI needs a region (or global)")
        if not settings.vertex_project_id:
            raise ConfigError("ANTHROPIC_VERTEX_PROJECT_ID is not set: Vertex AI needs a project")
        base = settings.vertex_base_url
        return anthropic.AsyncAnthropicVertex(
            region=settings.vertex_region,
            project_id=settings.vertex_project_id,
            access_token=token.get_secret_value() if token else None,
            base_url=str(base).rstrip("/") if base else None,
            timeout=timeout,
            max_retries=retries,
            middleware=relay,
        )
    assert settings.anthropic_api_key is not None
    base = settings.anthropic_base_url
    return anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=str(base).rstrip("/") if base else None,
        timeout=timeout,
        max_retries=retries,
        middleware=relay,
    )


def build_model_client(settings: Settings) -> ModelClient | None:
    """The configured model client, or None when no model is configured (runbook answers only:
    the Claude API without ANTHROPIC_API_KEY). Bedrock and Vertex find credentials themselves."""
    provider = settings.llm_provider
    if provider == "anthropic" and settings.anthropic_api_key is None:
        return None
    client = ModelClient(
        None,
        model=provider_model_id(provider, settings.wizard_model),
        effort=settings.effort,
        max_tokens=settings.llm_max_tokens,
        deadline_s=settings.llm_deadline_s,
        provider=provider,
    )
    client.sdk = _sdk(settings, client)
    return client


async def check_model(client: ModelClient) -> bool:
    """Is WIZARD_MODEL a model this key can use, with this effort and max_tokens? Raises
    ConfigError (exit 2) when the API says no; returns False, with a warning, when the API
    cannot be reached: the bot still starts, and every answer falls back to the runbook until
    it can — a network blip at 06:00 must not keep the bot down at market open."""
    sdk = client.sdk
    if not isinstance(sdk, anthropic.AsyncAnthropic):
        log.info("model_check_skipped", provider=client.provider, model=client.model)
        return False  # Bedrock and Vertex have no models.retrieve in the SDK
    try:
        info = await sdk.with_options(max_retries=1).models.retrieve(
            client.model, timeout=CHECK_TIMEOUT_S
        )
    except anthropic.NotFoundError:
        raise ConfigError(
            f"WIZARD_MODEL={client.model} is not a model this API key can use "
            "(models.retrieve: 404); set it to a Claude model id such as claude-sonnet-5-5"
        ) from None
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
        raise ConfigError(
            f"ANTHROPIC_API_KEY was refused by the API (HTTP {exc.status_code}); set a valid key"
        ) from None
    except anthropic.AnthropicError as exc:
        log.warning(
            "model_check_unreachable",
            model=client.model,
            error=type(exc).__name__,
            detail="starting anyway; answers fall back to runbooks until the API answers",
        )
        return False
    _check_info(client, info)
    log.info("model_checked", model=info.id, name=info.display_name, lifecycle=info.lifecycle)
    return True


def _check_info(client: ModelClient, info: anthropic.types.ModelInfo) -> None:
    """What the model's own description rules out: retired, effort, max_tokens."""
    if info.lifecycle == "retired":
        raise ConfigError(f"WIZARD_MODEL={client.model} is retired; choose a current model")
    if info.max_tokens is not None and client.max_tokens > info.max_tokens:
        raise ConfigError(
            f"WIZARD_LLM_MAX_TOKENS={client.max_tokens} exceeds {info.id}'s limit of "
            f"{info.max_tokens}"
        )
    effort = info.capabilities.effort if info.capabilities else None
    level = getattr(effort, client.effort, None) if effort is not None else None
    if effort is not None and (not effort.supported or (level is not None and not level.supported)):
        raise ConfigError(f"WIZARD_EFFORT={client.effort} is not supported by {info.id}")
