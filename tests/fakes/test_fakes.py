"""The fakes speak the real wire protocols: proven with the real slack_sdk and anthropic clients.

If these pass, a failure elsewhere is the bot's, not the fakes'. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import aiohttp
import anthropic
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.devtools.slack import SlackSandbox
from bot.models import TriageAnswer
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.signing import event_body, signed_headers, slash_body

MODEL = "claude-sonnet-5-5"
SYSTEM = [
    {
        "type": "text",
        "text": "You are the Infrastructure Wizard. " * 50,
        "cache_control": {"type": "ephemeral"},
    }
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def web(sandbox: SlackSandbox) -> AsyncIterator[AsyncWebClient]:
    client = AsyncWebClient(token="xoxb-test", base_url=sandbox.base_url, timeout=5)
    yield client


@pytest.fixture
async def llm(fake: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(api_key="test", base_url=fake.base_url, max_retries=0)
    yield client
    await client.close()


# --- Slack Web API ------------------------------------------------------------------------------
async def test_auth_post_update_replies_with_metadata(
    sandbox: SlackSandbox, web: AsyncWebClient
) -> None:
    auth = await web.auth_test()
    assert auth["ok"] and auth["user_id"] == sandbox.bot_user_id
    assert auth["bot_id"] == sandbox.bot_id and auth["team_id"] == "T0WIZ"

    parent = sandbox.inject_message("C1", {"user": "U1", "text": "[FIRING:1] DiskFull"})
    meta = {"event_type": "wizard_reply", "event_payload": {"job": "j1", "slot": "reply"}}
    posted = await web.chat_postMessage(
        channel="C1",
        thread_ts=parent["ts"],
        text="thinking…",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "thinking…"}}],
        metadata=meta,
        unfurl_links=False,
    )
    assert posted["channel"] == "C1" and posted["message"]["thread_ts"] == parent["ts"]
    assert posted["ts"] > parent["ts"]
    updated = await web.chat_update(channel="C1", ts=posted["ts"], text="done")
    assert updated["text"] == "done"

    replies = await web.conversations_replies(channel="C1", ts=parent["ts"])
    assert [m["ts"] for m in replies["messages"]] == [parent["ts"], posted["ts"]]
    assert "metadata" not in replies["messages"][1]  # only with include_all_metadata, as in Slack
    replies = await web.conversations_replies(
        channel="C1", ts=parent["ts"], include_all_metadata=True
    )
    assert replies["messages"][1]["metadata"] == meta
    assert replies["messages"][1]["text"] == "done"
    assert sandbox.messages("C1") == [m for m in sandbox.messages("C1") if "thread_ts" in m]
    assert len(sandbox.messages("C1", include_replies=True)) == 2
    assert sandbox.replies("C1", "1.000001") == []

    call = next(c for c in sandbox.calls if c.method == "chat.postMessage")
    assert call.params["metadata"] == meta and call.token == "xoxb-test"

    with pytest.raises(SlackApiError) as err:
        await web.chat_update(channel="C1", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as err:
        await web.api_call("no.such.method")
    assert err.value.response["error"] == "unknown_method"
    bad = AsyncWebClient(token="nope", base_url=sandbox.base_url)
    with pytest.raises(SlackApiError) as err:
        await bad.auth_test()
    assert err.value.response["error"] == "invalid_auth"


async def test_history_reactions_users_ephemeral_and_on_post(sandbox: SlackSandbox) -> None:
    seen: list[tuple[str, str]] = []

    async def on_post(channel: str, message: dict) -> None:
        seen.append((channel, message["text"]))

    sandbox.on_post = on_post
    # base_url without the trailing slash works too: the SDK appends one.
    web = AsyncWebClient(token="xoxb-test", base_url=sandbox.base_url.rstrip("/"))
    first = await web.chat_postMessage(
        channel="C2", text="one", metadata={"event_type": "x", "event_payload": {}}
    )
    await web.chat_postMessage(channel="C2", text="two")
    history = await web.conversations_history(channel="C2", include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["two", "one"]
    assert history["messages"][1]["metadata"]["event_type"] == "x"
    await web.reactions_add(channel="C2", timestamp=first["ts"], name="eyes")
    assert sandbox.messages("C2")[0]["reactions"][0]["name"] == "eyes"
    user = await web.users_info(user="U0ONCALL")
    assert user["user"]["id"] == "U0ONCALL"
    eph = await web.chat_postEphemeral(channel="C2", user="U1", text="psst")
    assert eph["message_ts"]
    assert seen == [("C2", "one"), ("C2", "two")]
    with pytest.raises(SlackApiError) as err, pytest.warns(UserWarning):
        await web.chat_postMessage(channel="C2")
    assert err.value.response["error"] == "no_text"


async def test_rate_limit_then_success_with_retry_handler(
    sandbox: SlackSandbox, web: AsyncWebClient
) -> None:
    web.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    sandbox.fail_next("chat.postMessage", status=429, retry_after=0)
    response = await web.chat_postMessage(channel="C1", text="hi")
    assert response["ok"]
    assert len([c for c in sandbox.calls if c.method == "chat.postMessage"]) == 2
    assert len(sandbox.messages("C1")) == 1


async def test_rate_limit_without_handler_raises_with_retry_after(
    sandbox: SlackSandbox, web: AsyncWebClient
) -> None:
    sandbox.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await web.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7"


async def test_server_error_is_retried(sandbox: SlackSandbox, web: AsyncWebClient) -> None:
    fast = FixedValueRetryIntervalCalculator(fixed_internal=0.01)
    web.retry_handlers.append(AsyncServerErrorRetryHandler(2, interval_calculator=fast))
    sandbox.fail_next("chat.postMessage", status=500, times=2)
    response = await web.chat_postMessage(channel="C1", text="hi")
    assert response["ok"]
    assert len([c for c in sandbox.calls if c.method == "chat.postMessage"]) == 3


async def test_ok_false_error_and_delay(sandbox: SlackSandbox, web: AsyncWebClient) -> None:
    sandbox.fail_next("chat.postMessage", error="not_in_channel")
    with pytest.raises(SlackApiError) as err:
        await web.chat_postMessage(channel="C9", text="hi")
    assert err.value.response["error"] == "not_in_channel"
    assert (await web.chat_postMessage(channel="C9", text="hi"))["ok"]
    sandbox.delay("auth.test", 0.3)
    started = time.perf_counter()
    await web.auth_test()
    assert time.perf_counter() - started >= 0.3
    await sandbox.wait_for(lambda: len(sandbox.calls) == 3, timeout=1)


async def test_response_url_records_json(sandbox: SlackSandbox) -> None:
    webhook = AsyncWebhookClient(sandbox.response_url("cmd1"))
    response = await webhook.send(text="answer", response_type="in_channel")
    assert response.status_code == 200
    assert sandbox.responses["cmd1"] == [{"text": "answer", "response_type": "in_channel"}]


# --- signing helpers ----------------------------------------------------------------------------
def test_signed_bodies_verify_with_the_sdk() -> None:
    secret = "s3cr3t"
    body = event_body({"type": "message", "text": "hi"}, event_id="Ev1")
    headers = signed_headers(secret, body)
    verifier = SignatureVerifier(secret)
    assert verifier.is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["event"]["text"] == "hi"
    form = slash_body("status", user_id="U1", channel_id="C1", response_url="http://x/r")
    headers = signed_headers(secret, form.encode())
    assert verifier.is_valid_request(form, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(form))["command"] == "/wizard"
    stale = signed_headers(secret, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)


# --- Anthropic ----------------------------------------------------------------------------------
async def _parse(llm: anthropic.AsyncAnthropic, text: str, **kw) -> object:
    return await llm.messages.parse(
        model=MODEL,
        max_tokens=2048,
        system=SYSTEM,
        messages=[{"role": "user", "content": text}],
        output_format=TriageAnswer,
        **kw,
    )


async def test_parse_returns_triage_answer_and_caches(
    fake: FakeAnthropic, llm: anthropic.AsyncAnthropic
) -> None:
    fake.rollback_target = "2026.11.27-1"
    first = await _parse(llm, "alert: name=OrderGatewayLatencyHigh service=order-gateway")
    answer = first.parsed_output  # type: ignore[attr-defined]
    assert isinstance(answer, TriageAnswer)
    assert "OrderGatewayLatencyHigh" in answer.summary
    assert answer.rollback.target_version == "2026.11.27-1"
    assert first.model == MODEL and first.stop_reason == "end_turn"  # type: ignore[attr-defined]
    usage = first.usage  # type: ignore[attr-defined]
    assert usage.cache_creation_input_tokens > 0 and usage.cache_read_input_tokens == 0
    second = await _parse(llm, "a different question about FixSessionDown")
    usage2 = second.usage  # type: ignore[attr-defined]
    assert usage2.cache_read_input_tokens == usage.cache_creation_input_tokens
    assert usage2.cache_creation_input_tokens == 0
    assert "FixSessionDown" in second.parsed_output.summary  # type: ignore[attr-defined]

    sent = fake.requests[0]
    schema = sent["body"]["output_config"]["format"]
    assert schema["type"] == "json_schema" and "rollback" in schema["schema"]["properties"]
    # anthropic 2.x sends the key as `Authorization: Bearer`, not `x-api-key`
    assert sent["api_key"] == "test"
    assert fake.calls == 2 and fake.violations == []


async def test_http_errors_map_to_sdk_exceptions(
    fake: FakeAnthropic, llm: anthropic.AsyncAnthropic
) -> None:
    fake.fail(529, times=1)
    with pytest.raises(anthropic.InternalServerError) as err:
        await _parse(llm, "x")
    assert err.value.status_code == 529
    assert isinstance(err.value.body, dict)
    assert err.value.body["error"]["type"] == "overloaded_error"
    fake.fail(429)
    with pytest.raises(anthropic.RateLimitError):
        await _parse(llm, "x")
    with pytest.raises(anthropic.RateLimitError):
        await _parse(llm, "x")
    fake.fail(500)
    with pytest.raises(anthropic.APIStatusError):
        await _parse(llm, "x")
    fake.reset()
    assert (await _parse(llm, "name=DiskFull")).parsed_output is not None  # type: ignore[attr-defined]


async def test_delay_hang_and_invalid_json(
    fake: FakeAnthropic, llm: anthropic.AsyncAnthropic
) -> None:
    fake.delay(2)
    with pytest.raises(anthropic.APITimeoutError):
        await _parse(llm, "x", timeout=0.3)
    fake.reset()
    fake.hang()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await _parse(llm, "x")
    fake.reset()
    fake.invalid_json()
    with pytest.raises(ValueError):  # pydantic.ValidationError is a ValueError
        await _parse(llm, "x")


# --- Socket Mode --------------------------------------------------------------------------------
async def test_socket_mode_envelopes_acks_and_reconnect(sandbox: SlackSandbox) -> None:
    received: list[str] = []

    async def listener(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request.envelope_id)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    web = AsyncWebClient(base_url=sandbox.base_url)
    client = SocketModeClient(app_token="xapp-1-test", web_client=web, ping_interval=0.2)
    client.socket_mode_request_listeners.append(listener)
    try:
        async with asyncio.timeout(10):
            await client.connect()
            await sandbox.wait_for_connection(count=1)
            event = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}}
            first = await sandbox.send_envelope(event)
            ack = await sandbox.wait_for_ack(first, timeout=3)
            assert ack == {"envelope_id": first}
            # pings are answered: the client's stale-connection monitor sees pongs
            await asyncio.sleep(0.5)
            assert client.last_ping_pong_time is not None
            assert time.time() - client.last_ping_pong_time < 1.0
            assert sandbox.connections_opened == 1

            await sandbox.drop_connections()
            await sandbox.wait_for_connection(count=2, timeout=5)
            opens = [c for c in sandbox.calls if c.method == "apps.connections.open"]
            assert len(opens) == 2 and opens[0].token == "xapp-1-test"
            second = await sandbox.send_envelope({**event, "event_id": "Ev2"})
            await sandbox.wait_for_ack(second, timeout=3)
            assert received == [first, second]

            await sandbox.send_disconnect()  # Slack's "refresh_requested" rotation
            await sandbox.wait_for_connection(count=3, timeout=5)
            third = await sandbox.send_envelope({**event, "event_id": "Ev3"}, type="events_api")
            await sandbox.wait_for_ack(third, timeout=3)
    finally:
        await client.close()


async def test_connections_open_needs_app_token(sandbox: SlackSandbox) -> None:
    web = AsyncWebClient(base_url=sandbox.base_url)
    with pytest.raises(SlackApiError) as err:
        await web.apps_connections_open(app_token="xoxb-not-an-app-token")
    assert err.value.response["error"] == "not_allowed_token_type"
    opened = await web.apps_connections_open(app_token="xapp-1-x")
    assert opened["url"].startswith(f"ws://127.0.0.1:{sandbox.port}/socket?")
    async with aiohttp.ClientSession() as session, session.ws_connect(opened["url"]) as ws:
        hello = await asyncio.wait_for(ws.receive_json(), 2)
        assert hello["type"] == "hello"
