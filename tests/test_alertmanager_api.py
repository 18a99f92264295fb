"""Silences through the real client against a fake that answers like Alertmanager 0.25: the body
is what the v2 API requires, failures become one-line errors with the status, nothing leaks."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.alertmanager_api import AlertmanagerClient, AlertmanagerError, silence_matchers
from bot.models import Alert
from bot.settings import load_settings
from tests.fakes.alertmanager_api import FakeAlertmanager


@pytest.fixture
async def fake() -> AsyncIterator[FakeAlertmanager]:
    async with FakeAlertmanager() as server:
        yield server


def am_alert(**labels: str) -> Alert:
    return Alert(
        source="alertmanager",
        status="firing",
        name="OrderGatewayLatencyHigh",
        service="order-gateway",
        fingerprint="6a1f0c2d9b3e4f57",
        labels={
            "alertname": "OrderGatewayLatencyHigh",
            "service": "order-gateway",
            "namespace": "trading",
            "instance": "og-1:9100",
            "severity": "critical",
            "pod": "order-gateway-7d9f-abcde",
            "prometheus_replica": "prometheus-1",
            **labels,
        },
    )


def test_silence_matchers_keep_identity_and_drop_volatile_labels() -> None:
    matchers = silence_matchers(am_alert(value="1.7", **{"bad-name": "x", "empty": ""}))
    assert matchers == {
        "alertname": "OrderGatewayLatencyHigh",
        "instance": "og-1:9100",
        "namespace": "trading",
        "service": "order-gateway",
    }
    with pytest.raises(ValueError, match="only Alertmanager alerts"):
        silence_matchers(am_alert().model_copy(update={"source": "datadog"}))


async def test_create_silence_sends_the_v2_body_and_returns_the_id(
    fake: FakeAlertmanager,
) -> None:
    before = datetime.now(UTC)
    async with AlertmanagerClient(fake.base_url) as client:
        silence_id = await client.create_silence(
            silence_matchers(am_alert()),
            timedelta(hours=2),
            created_by="U0ONCALL via wizard",
            comment="INC-123: rollback in progress",
        )
        stored = await client.get_silence(silence_id)
    request = fake.requests[0]
    assert request["method"] == "POST" and request["path"] == "/api/v2/silences"
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(request["body"])
    assert set(body) == {"matchers", "startsAt", "endsAt", "createdBy", "comment"}
    name_matcher = {"name": "alertname", "value": "OrderGatewayLatencyHigh"}
    assert {**name_matcher, "isRegex": False, "isEqual": True} in body["matchers"]
    assert all(m["isRegex"] is False and m["isEqual"] is True for m in body["matchers"])
    starts = datetime.fromisoformat(body["startsAt"].replace("Z", "+00:00"))
    ends = datetime.fromisoformat(body["endsAt"].replace("Z", "+00:00"))
    assert body["startsAt"].endswith("Z") and ends - starts == timedelta(hours=2)
    assert before - timedelta(seconds=1) <= starts <= datetime.now(UTC)
    assert stored["status"]["state"] == "active" and stored["createdBy"] == "U0ONCALL via wizard"
    assert silence_id in fake.silences


async def test_expire_silence_is_idempotent_and_unknown_ids_are_not_found(
    fake: FakeAlertmanager,
) -> None:
    async with AlertmanagerClient(fake.base_url) as client:
        silence_id = await client.create_silence(
            {"alertname": "X"}, timedelta(minutes=30), "me", "c"
        )
        await client.expire_silence(silence_id)
        assert (await client.get_silence(silence_id))["status"]["state"] == "expired"
        await client.expire_silence(silence_id)  # Alertmanager answers 200 again
        with pytest.raises(AlertmanagerError) as caught:
            await client.expire_silence("11111111-2222-3333-4444-555555555555")
    assert caught.value.status == 500 and caught.value.not_found
    assert str(caught.value) == "Alertmanager HTTP 500: silence not found"
    assert [r["method"] for r in fake.requests].count("DELETE") == 3


async def test_api_errors_become_one_line_with_status(fake: FakeAlertmanager) -> None:
    async with AlertmanagerClient(fake.base_url) as client:
        with pytest.raises(AlertmanagerError) as caught:  # only matches the empty string
            await client.create_silence({"alertname": ""}, timedelta(minutes=5), "me", "c")
        assert caught.value.status == 400
        assert caught.value.message == (
            "silence invalid: at least one matcher must not match the empty string"
        )
        past = datetime.now(UTC) - timedelta(hours=3)
        with pytest.raises(AlertmanagerError, match="end time can't be in the past"):
            await client.create_silence(
                {"alertname": "X"}, timedelta(hours=1), "me", "c", starts_at=past
            )
        fake.fail(503, "service unavailable\nretry later")
        with pytest.raises(AlertmanagerError) as caught:
            await client.create_silence({"alertname": "X"}, timedelta(minutes=5), "me", "c")
        assert caught.value.status == 503
        assert "\n" not in str(caught.value) and "retry later" in str(caught.value)


async def test_fake_rejects_what_alertmanager_rejects(fake: FakeAlertmanager) -> None:
    """The fake's own checks, so a client that drops a field would fail like it does for real."""
    url = fake.base_url + "/api/v2/silences"
    now = datetime.now(UTC)
    good = {
        "matchers": [{"name": "alertname", "value": "X", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "me",
        "comment": "c",
    }
    cases = [
        ({k: v for k, v in good.items() if k != "createdBy"}, 422, "createdBy in body is required"),
        ({**good, "matchers": []}, 422, "at least 1 items"),
        ({**good, "matchers": [{"name": "a", "value": "x"}]}, 422, "matchers.0.isRegex"),
        ({**good, "endsAt": good["startsAt"]}, 400, "start time must be before end time"),
        (
            {**good, "matchers": [{"name": "bad-name", "value": "x", "isRegex": False}]},
            400,
            "invalid label name",
        ),
    ]
    async with aiohttp.ClientSession() as session:
        for body, status, message in cases:
            async with session.post(url, json=body) as response:
                assert response.status == status, body
                assert message in await response.text()
        async with session.post(url, data=json.dumps(good)) as response:  # no JSON content type
            assert response.status == 415
        async with session.post(
            url, json={**good, "id": "00000000-0000-0000-0000-000000000000"}
        ) as r:
            assert r.status == 404
        async with session.post(url, json=good) as response:
            assert response.status == 200 and "silenceID" in await response.json()


async def test_timeout_and_unreachable_are_errors_without_status(fake: FakeAlertmanager) -> None:
    fake.hang()
    started = time.perf_counter()
    async with AlertmanagerClient(fake.base_url, timeout_s=0.3) as client:
        with pytest.raises(AlertmanagerError) as caught:
            await client.create_silence({"alertname": "X"}, timedelta(minutes=5), "me", "c")
    assert caught.value.status is None and "no answer within 0.3s" in str(caught.value)
    assert time.perf_counter() - started < 2
    fake.reset()
    await fake.stop()
    async with AlertmanagerClient(fake.base_url, timeout_s=1) as client:
        with pytest.raises(AlertmanagerError, match=r"cannot reach 127\.0\.0\.1"):
            await client.expire_silence("11111111-2222-3333-4444-555555555555")


async def test_credentials_become_basic_auth_and_never_reach_logs_or_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the sink itself (stdlib logging, where structlog writes), at DEBUG: structlog's
    # capture_logs misses loggers cached by earlier tests, so it saw nothing in a full run
    caplog.set_level(logging.DEBUG)
    async with FakeAlertmanager(prefix="/alertmanager") as server:
        secret_url = server.base_url.replace("http://", "http://wizard:s3cr3t-pw@")
        async with AlertmanagerClient(secret_url) as client:
            assert "s3cr3t" not in client.base_url
            sid = await client.create_silence({"alertname": "X"}, timedelta(minutes=5), "me", "c")
            server.fail(500, "boom")
            with pytest.raises(AlertmanagerError) as caught:
                await client.expire_silence(sid)
        assert server.requests[0]["path"] == "/alertmanager/api/v2/silences"  # prefix kept
        assert server.requests[0]["headers"]["Authorization"].startswith("Basic ")
        assert "s3cr3t" not in str(caught.value)
        logs = [r.getMessage() for r in caplog.records]
        assert logs and "s3cr3t" not in json.dumps(logs, default=str)


async def test_shared_session_is_not_closed_by_the_client(fake: FakeAlertmanager) -> None:
    async with aiohttp.ClientSession() as session:
        async with AlertmanagerClient(fake.base_url, session=session) as client:
            await client.create_silence({"alertname": "X"}, timedelta(minutes=5), "me", "c")
        assert not session.closed


async def test_client_refuses_bad_arguments_before_calling(fake: FakeAlertmanager) -> None:
    async with AlertmanagerClient(fake.base_url) as client:
        for args in (
            ({}, timedelta(minutes=5), "me", "c"),
            ({"alertname": "X"}, timedelta(0), "me", "c"),
            ({"alertname": "X"}, timedelta(days=8), "me", "c"),
            ({"alertname": "X"}, timedelta(minutes=5), " ", "c"),
            ({"bad-name": "X"}, timedelta(minutes=5), "me", "c"),
        ):
            with pytest.raises(ValueError):
                await client.create_silence(*args)
        with pytest.raises(ValueError):
            await client.expire_silence("../../status")
    assert fake.requests == []
    with pytest.raises(ValueError):
        AlertmanagerClient("ftp://example")


def test_alertmanager_url_setting() -> None:
    assert load_settings(ALERTMANAGER_URL="http://alertmanager:9093").alertmanager_url is not None
    assert load_settings().alertmanager_url is None


async def test_concurrent_silences_get_distinct_ids(fake: FakeAlertmanager) -> None:
    async with AlertmanagerClient(fake.base_url) as client:
        ids = await asyncio.gather(
            *(
                client.create_silence({"alertname": f"A{i}"}, timedelta(minutes=5), "me", "c")
                for i in range(5)
            )
        )
    assert len(set(ids)) == 5 and set(ids) == set(fake.silences)
