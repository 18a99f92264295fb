"""Providers and the start-up model check, through the official SDK clients against local fakes.

Bedrock: the real `AsyncAnthropicBedrock` signs with SigV4 (botocore) using credentials from the
environment and calls `/model/{modelId}/invoke`; Vertex: the real `AsyncAnthropicVertex` calls
`/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:rawPredict` with a bearer token
(an explicit access token here: no real credentials are ever fetched).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import AnyHttpUrl, SecretStr

from bot.devtools.slack import SlackSandbox
from bot.models import TriageAnswer
from bot.settings import ConfigError, Settings
from bot.store.embedded import EmbeddedRedis
from bot.triage.providers import build_model_client, check_model, provider_model_id
from tests.fakes.anthropic_api import FakeAnthropic

SYSTEM: list[Any] = [{"type": "text", "text": "You are the wizard."}]
ASK: list[Any] = [{"role": "user", "content": "alertname=FixSessionDown on fix-gateway"}]


def test_model_ids_per_provider() -> None:
    assert provider_model_id("anthropic", "claude-sonnet-5-5") == "claude-sonnet-5-5"
    assert provider_model_id("bedrock", "claude-sonnet-5-5") == "anthropic.claude-sonnet-5-5"
    assert provider_model_id("bedrock", "us.anthropic.claude-sonnet-5-5") == (
        "us.anthropic.claude-sonnet-5-5"
    )
    assert provider_model_id("vertex", "claude-sonnet-5-5") == "claude-sonnet-5-5"


async def test_bedrock_invoke_is_sigv4_signed_with_environment_credentials(
    llm: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFORTESTS0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-tests-only")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "fake-session-token")
    for name in ("AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        WIZARD_LLM_PROVIDER="bedrock",
        AWS_REGION="eu-west-1",
        ANTHROPIC_BEDROCK_BASE_URL=AnyHttpUrl(llm.base_url),
    )
    client = build_model_client(settings)
    assert client is not None and client.model == "anthropic.claude-sonnet-5-5"
    reply = await client.structured(system=SYSTEM, messages=ASK, output=TriageAnswer)
    assert await check_model(client) is False  # no models.retrieve on Bedrock: skipped
    await client.close()
    assert reply.cause == "ok" and "FixSessionDown" in reply.parsed.summary  # type: ignore[union-attr]
    assert reply.usage is not None and reply.usage.cost_usd is not None
    sent = llm.requests[-1]
    assert sent["platform"] == "bedrock" and sent["model"] == "anthropic.claude-sonnet-5-5"
    auth = sent["headers"]["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIAFAKEFORTESTS0001/")
    assert "/eu-west-1/bedrock/aws4_request" in auth and "Signature=" in auth
    assert sent["headers"]["x-amz-security-token"] == "fake-session-token"
    assert sent["body"]["anthropic_version"]  # in the body on Bedrock, not a header
    assert "model" not in sent["body"] and sent["body"]["thinking"] == {"type": "adaptive"}


async def test_bedrock_without_region_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="AWS_REGION"):
        build_model_client(Settings(WIZARD_LLM_PROVIDER="bedrock"))


def vertex(llm: FakeAnthropic, token: str) -> Settings:
    return Settings(
        WIZARD_LLM_PROVIDER="vertex",
        ANTHROPIC_VERTEX_PROJECT_ID="desk-infra-prod",
        CLOUD_ML_REGION="europe-west4",
        ANTHROPIC_VERTEX_BASE_URL=AnyHttpUrl(llm.base_url + "/v1"),  # the SDK's base ends in /v1
        WIZARD_VERTEX_ACCESS_TOKEN=SecretStr(token),
    )


async def test_vertex_raw_predict_with_an_access_token(llm: FakeAnthropic) -> None:
    llm.vertex_token = "ya29.test-token"
    client = build_model_client(vertex(llm, "ya29.test-token"))
    assert client is not None
    reply = await client.structured(system=SYSTEM, messages=ASK, output=TriageAnswer)
    await client.close()
    assert reply.cause == "ok"
    sent = llm.requests[-1]
    assert sent["platform"] == "vertex" and sent["model"] == "claude-sonnet-5-5"
    assert sent["body"]["anthropic_version"] and "model" not in sent["body"]
    assert sent["api_key"] == "ya29.test-token"


async def test_vertex_wrong_token_is_an_http_401_fallback_reason(llm: FakeAnthropic) -> None:
    llm.vertex_token = "ya29.the-right-one"
    client = build_model_client(vertex(llm, "ya29.stale"))
    assert client is not None
    reply = await client.structured(system=SYSTEM, messages=ASK, output=TriageAnswer)
    await client.close()
    assert reply.cause == "http_401" and reply.usage is None


def claude(fake_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "ANTHROPIC_API_KEY": SecretStr("sk-ant-test"),
        "ANTHROPIC_BASE_URL": AnyHttpUrl(fake_url),
        **extra,
    }
    return Settings(**values)


async def test_check_model_accepts_the_default_and_names_wizard_model_when_wrong(
    llm: FakeAnthropic,
) -> None:
    good = build_model_client(claude(llm.base_url))
    assert good is not None and await check_model(good) is True
    await good.close()
    bad = build_model_client(claude(llm.base_url, WIZARD_MODEL="claude-sonnet-9-9"))
    assert bad is not None
    with pytest.raises(ConfigError, match=r"^WIZARD_MODEL=claude-sonnet-9-9 is not a model"):
        await check_model(bad)
    await bad.close()
    # the model's own max_tokens (from models.retrieve) bounds WIZARD_LLM_MAX_TOKENS
    llm.models.add("claude-small")
    small = build_model_client(claude(llm.base_url, WIZARD_MODEL="claude-small"))
    assert small is not None
    small.max_tokens = 200_000
    with pytest.raises(ConfigError, match="WIZARD_LLM_MAX_TOKENS"):
        await check_model(small)
    await small.close()


async def test_check_model_names_wizard_effort_when_the_model_lacks_it(
    llm: FakeAnthropic,
) -> None:
    levels = {level: {"supported": level != "low"} for level in ("low", "medium", "high", "max")}
    llm.capabilities["claude-sonnet-5-5"] = {"effort": {"supported": True, **levels}}
    client = build_model_client(claude(llm.base_url))
    assert client is not None
    with pytest.raises(ConfigError, match=r"^WIZARD_EFFORT=low is not supported"):
        await check_model(client)
    client.effort = "high"
    assert await check_model(client) is True
    await client.close()


async def test_check_model_warns_and_goes_on_when_the_api_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        client = build_model_client(claude(f"http://127.0.0.1:{port}"))
        assert client is not None
        with structlog.testing.capture_logs() as logs:
            assert await check_model(client) is False
        await client.close()
    assert any(e["event"] == "model_check_unreachable" for e in logs)


async def test_serve_exits_2_with_one_line_naming_wizard_model(
    tmp_path: Path, sandbox: SlackSandbox, redis_server: EmbeddedRedis
) -> None:
    async with FakeAnthropic() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WIZARD_"))}
        env.update(
            SLACK_BOT_TOKEN="xoxb-serve-test",
            SLACK_SIGNING_SECRET="serve-secret",
            SLACK_API_URL=sandbox.base_url,  # serve's preflight checks Slack and Redis first
            REDIS_URL=redis_server.url,
            ANTHROPIC_API_KEY="sk-ant-test",
            ANTHROPIC_BASE_URL=fake.base_url,
            WIZARD_MODEL="claude-sonnet-4-9-typo",
            WIZARD_DATA_DIR=str(tmp_path),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--port", "0",
            env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert fake.calls == 0  # nothing was asked of a model that does not exist
    assert proc.returncode == 2, err.decode()
    lines = [line for line in err.decode().splitlines() if line.startswith("wizard:")]
    assert len(lines) == 1 and "WIZARD_MODEL=claude-sonnet-4-9-typo" in lines[0], err.decode()
