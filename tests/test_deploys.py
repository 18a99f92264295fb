"""Deploy events in our shape and three CI/CD shapes become the same `Deploy`; the hook records
them, acknowledges unfinished deploys without recording them, and explains bad bodies."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.deploys import DeployIgnored, parse_deploy_payload
from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import Bot, settings_for, start_bot, stop_bot

AT = datetime(2026, 11, 28, 9, 20, 5, tzinfo=UTC)
SHA = "7f3c2a9e5b1d4c6f8a0e2b4d6f8a1c3e5b7d9f0a"

GITHUB: dict[str, Any] = {
    "action": "created",
    "deployment_status": {
        "id": 1,
        "state": "success",
        "environment": "production",
        "creator": {"login": "release-bot"},
        "created_at": "2026-11-28T09:20:00Z",
        "updated_at": "2026-11-28T09:20:05Z",
    },
    "deployment": {
        "id": 42,
        "sha": SHA,
        "ref": "v1.5.0",
        "task": "deploy",
        "environment": "production",
        "payload": {"previous_version": "v1.4.0", "strategy": "rolling"},
        "creator": {"login": "alice"},
        "created_at": "2026-11-28T09:18:00Z",
    },
    "repository": {"name": "order-gateway", "full_name": "acme/order-gateway"},
    "sender": {"login": "alice"},
}

ARGOCD: dict[str, Any] = {
    "app": {
        "metadata": {"name": "order-gateway", "labels": {"environment": "production"}},
        "spec": {"destination": {"namespace": "trading"}},
        "status": {
            "sync": {"status": "Synced", "revision": SHA},
            "health": {"status": "Healthy"},
            "operationState": {
                "phase": "Succeeded",
                "startedAt": "2026-11-28T09:19:00Z",
                "finishedAt": "2026-11-28T09:20:05Z",
                "operation": {"initiatedBy": {"automated": True}},
                "syncResult": {"revision": SHA},
            },
            "history": [
                {"id": 11, "revision": "0a1b2c3d4e5f", "deployedAt": "2026-11-20T10:00:00Z"},
                {"id": 13, "revision": SHA, "deployedAt": "2026-11-28T09:20:05Z"},
                {"id": 12, "revision": "9e8d7c6b5a4f", "deployedAt": "2026-11-25T10:00:00Z"},
            ],
        },
    }
}

SPINNAKER: dict[str, Any] = {
    "details": {
        "source": "orca",
        "type": "orca:pipeline:complete",
        "created": "1795857605000",
        "application": "order-gateway",
    },
    "content": {
        "execution": {
            "type": "PIPELINE",
            "application": "order-gateway",
            "name": "Deploy to prod",
            "status": "SUCCEEDED",
            "endTime": int(AT.timestamp() * 1000),
            "authentication": {"user": "bob@acme.example"},
            "trigger": {
                "type": "manual",
                "user": "bob@acme.example",
                "parameters": {"environment": "production", "strategy": "redblack"},
                "artifacts": [
                    {
                        "type": "docker/image",
                        "name": "registry.acme/order-gateway",
                        "version": "1.5.0",
                        "reference": "registry.acme/order-gateway:1.5.0",
                    }
                ],
            },
        },
        "executionId": "01J0000000000000000000000",
    },
}


def test_our_shape() -> None:
    deploy = parse_deploy_payload(
        {
            "service": "order-gateway",
            "version": "2026.11.28-3",
            "previous_version": "2026.11.27-1",
            "actor": "ci-bot",
            "at": "2026-11-28T09:20:05",  # no zone: taken as UTC
            "strategy": "helm",
            "revision": "8",
        }
    )
    assert (deploy.service, deploy.version, deploy.previous_version) == (
        "order-gateway",
        "2026.11.28-3",
        "2026.11.27-1",
    )
    assert deploy.at == AT and deploy.revision == "8" and deploy.environment == "production"


def test_github_deployment_status() -> None:
    deploy = parse_deploy_payload(GITHUB)
    assert deploy.service == "order-gateway"
    assert deploy.version == "v1.5.0"  # a version-like ref (a tag) is the version
    assert deploy.previous_version == "v1.4.0" and deploy.strategy == "rolling"
    assert deploy.actor == "release-bot" and deploy.at == AT
    branch = copy.deepcopy(GITHUB)
    branch["deployment"]["ref"] = "main"
    branch["deployment"]["payload"] = '{"service": "og-api", "version": "2026.11.28-3"}'
    deploy = parse_deploy_payload(branch)
    assert (deploy.service, deploy.version) == ("og-api", "2026.11.28-3")  # JSON-string payload
    branch["deployment"]["payload"] = {}
    assert parse_deploy_payload(branch).version == SHA[:12]  # a branch is not a version
    failed = copy.deepcopy(GITHUB)
    failed["deployment_status"]["state"] = "failure"
    with pytest.raises(DeployIgnored, match="'failure' is not a finished deploy"):
        parse_deploy_payload(failed)


def test_argocd_notification() -> None:
    deploy = parse_deploy_payload(ARGOCD)
    assert deploy.service == "order-gateway" and deploy.version == SHA
    assert deploy.previous_version == "9e8d7c6b5a4f"  # history sorted by id, not list order
    assert deploy.revision == "13" and deploy.strategy == "argocd"
    assert deploy.actor == "argocd-automated" and deploy.at == AT
    running = copy.deepcopy(ARGOCD)
    running["app"]["status"]["operationState"]["phase"] = "Running"
    with pytest.raises(DeployIgnored, match="Running"):
        parse_deploy_payload(running)


def test_spinnaker_echo_event() -> None:
    deploy = parse_deploy_payload(SPINNAKER)
    assert (deploy.service, deploy.version, deploy.actor) == (
        "order-gateway",
        "1.5.0",
        "bob@acme.example",
    )
    assert deploy.at == AT and deploy.strategy == "redblack"
    failed = copy.deepcopy(SPINNAKER)
    failed["details"]["type"] = "orca:pipeline:failed"
    failed["content"]["execution"]["status"] = "TERMINAL"
    with pytest.raises(DeployIgnored, match="TERMINAL"):
        parse_deploy_payload(failed)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "must be a JSON object"),
        ({"hello": "world"}, "unrecognised body"),
        ({"service": "x"}, "deploy: cannot find version, at"),
        ({"service": "x", "version": "1", "at": "yesterday"}, "deploy: at: "),
        ({"service": "x", "version": "v" * 300, "at": "2026-11-28T09:20:05Z"}, "deploy: version"),
        ({"deployment_status": "success"}, "github: deployment_status must be an object"),
        (
            {**GITHUB, "repository": {}, "deployment": {**GITHUB["deployment"], "payload": {}}},
            "github: cannot find service",
        ),
        ({"app": {"metadata": {}, "status": {}}}, "argocd: cannot find service, version, at"),
        (
            {"details": {"type": "orca:pipeline:complete"}, "content": {}},
            "spinnaker: cannot find service, version, at",
        ),
    ],
)
def test_bad_payloads_say_what_is_wrong(payload: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_deploy_payload(payload)
    assert not isinstance(caught.value, DeployIgnored)
    assert "\n" not in str(caught.value)  # one line, for the sender's log


@pytest.fixture
async def bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> AsyncIterator[Bot]:
    settings = settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm)
    running = await start_bot(settings, sandbox)
    yield running
    await stop_bot(running)


async def test_hook_records_every_shape_and_acknowledges_unfinished(bot: Bot) -> None:
    for payload in (GITHUB, ARGOCD, SPINNAKER):
        assert await bot.hook("/hooks/deploy", payload) == 200
    failed = copy.deepcopy(GITHUB)
    failed["deployment_status"]["state"] = "error"
    assert await bot.hook("/hooks/deploy", failed) == 202
    assert await bot.hook("/hooks/deploy", {"hello": "world"}) == 400
    recorded = await bot.runtime.store.deploys_for("order-gateway")
    assert sorted(d.version for d in recorded) == sorted(["v1.5.0", SHA, "1.5.0"])
    audited = [r for r in await bot.runtime.audit.records() if r["kind"] == "deploy"]
    assert len(audited) == 3
