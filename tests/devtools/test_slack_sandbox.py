"""The local Slack refuses what the real one refuses, and speaks the AI-app methods.

Everything goes through the real `AsyncWebClient` (its JSON encoding, its `SlackApiError`), so
what these tests see is what the bot sees.
"""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.devtools.slack import SlackSandbox

TOKEN = "xoxb-test"


def client(sandbox: SlackSandbox) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=sandbox.base_url)


async def test_invalid_blocks_are_refused_like_slack(sandbox: SlackSandbox) -> None:
    web = client(sandbox)
    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    with pytest.raises(SlackApiError) as caught:
        await web.chat_postMessage(channel="C1", text="t", blocks=long_header)
    assert caught.value.response["error"] == "invalid_blocks"
    assert "150" in " ".join(caught.value.response["errors"])
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as caught:
        await web.chat_postMessage(channel="C1", text="t", blocks=too_many)
    assert caught.value.response["error"] == "invalid_blocks"
    huge = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 5
    with pytest.raises(SlackApiError) as caught:
        await web.chat_postMessage(channel="C1", text="t", blocks=huge)
    assert caught.value.response["error"] == "msg_blocks_too_long"
    unknown = [{"type": "fancy_new_block"}]
    with pytest.raises(SlackApiError):
        await web.chat_postMessage(channel="C1", text="t", blocks=unknown)
    assert sandbox.messages("C1") == []
    assert [error for _, error, _ in sandbox.rejected] == [
        "invalid_blocks",
        "invalid_blocks",
        "msg_blocks_too_long",
        "invalid_blocks",
    ]


async def test_updates_and_response_urls_are_validated_too(sandbox: SlackSandbox) -> None:
    web = client(sandbox)
    posted = await web.chat_postMessage(channel="C1", text="hello")
    empty = [{"type": "section", "text": {"type": "mrkdwn", "text": " "}}]
    with pytest.raises(SlackApiError) as caught:
        await web.chat_update(channel="C1", ts=posted["ts"], text="x", blocks=empty)
    assert caught.value.response["error"] == "invalid_blocks"
    webhook = AsyncWebhookClient(sandbox.response_url("r1"))
    response = await webhook.send(text="x", blocks=empty)
    assert response.status_code == 400
    assert "r1" not in sandbox.responses
    ok = await webhook.send(text="fine")
    assert ok.status_code == 200 and sandbox.responses["r1"][0]["text"] == "fine"


async def test_feedback_buttons_are_valid_block_kit(sandbox: SlackSandbox) -> None:
    feedback = {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": "wizard_feedback",
                "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "up"},
                "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "dn"},
            }
        ],
    }
    await client(sandbox).chat_postMessage(channel="C1", text="answer", blocks=[feedback])
    assert sandbox.messages("C1")[0]["blocks"][0]["type"] == "context_actions"


async def test_status_is_set_and_cleared_when_the_bot_replies(sandbox: SlackSandbox) -> None:
    web = client(sandbox)
    root = await web.chat_postMessage(channel="C1", text="alert")
    await web.assistant_threads_setStatus(
        channel_id="C1",
        thread_ts=root["ts"],
        status="is thinking…",
        loading_messages=["Reading the alert…", "Checking deploys…"],
    )
    assert sandbox.workspace.status_of("C1", root["ts"]) == "is thinking…"
    with pytest.raises(SlackApiError) as caught:
        await web.assistant_threads_setStatus(
            channel_id="C1", thread_ts=root["ts"], status="x", loading_messages=["m"] * 11
        )
    assert caught.value.response["error"] == "invalid_arguments"
    await web.chat_postMessage(channel="C1", thread_ts=root["ts"], text="the answer")
    assert sandbox.workspace.status_of("C1", root["ts"]) == ""
    assert sandbox.workspace.statuses[-1].cleared_by_post


async def test_streaming_start_append_stop(sandbox: SlackSandbox) -> None:
    web = client(sandbox)
    root = await web.chat_postMessage(channel="C1", text="question")
    with pytest.raises(SlackApiError) as caught:  # a channel stream needs its recipient
        await web.chat_startStream(channel="C1", thread_ts=root["ts"], markdown_text="Hi")
    assert caught.value.response["error"] == "invalid_arguments"
    stream = await web.chat_stream(
        channel="C1",
        thread_ts=root["ts"],
        recipient_user_id="U1",
        recipient_team_id="T0WIZ",
        buffer_size=1,
    )
    await stream.append(markdown_text="**Roll back** ")
    await stream.append(markdown_text="after the auction.")
    section = [{"type": "section", "text": {"type": "mrkdwn", "text": "footer"}}]
    await stream.stop(blocks=section)
    message = sandbox.replies("C1", root["ts"])[-1]
    assert message["text"] == "**Roll back** after the auction."
    assert message["blocks"][0] == {"type": "markdown", "text": message["text"]}
    assert message["blocks"][1:] == section
    with pytest.raises(SlackApiError) as caught:
        await web.chat_appendStream(channel="C1", ts=message["ts"], markdown_text="late")
    assert caught.value.response["error"] == "message_not_in_streaming_state"
    methods = [c.method for c in sandbox.calls if c.method.startswith("chat.")]
    assert methods[-4:] == [
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
        "chat.appendStream",
    ]


async def test_a_slack_without_streaming_answers_unknown_method(sandbox: SlackSandbox) -> None:
    sandbox.fail_next("chat.startStream", error="unknown_method", times=5)
    with pytest.raises(SlackApiError) as caught:
        await client(sandbox).chat_startStream(channel="D1", thread_ts="1.0", markdown_text="x")
    assert caught.value.response["error"] == "unknown_method"


async def test_assistant_titles_and_prompts(sandbox: SlackSandbox) -> None:
    web = client(sandbox)
    await web.assistant_threads_setTitle(channel_id="D1", thread_ts="1.0", title="INC-1")
    await web.assistant_threads_setSuggestedPrompts(
        channel_id="D1",
        thread_ts="1.0",
        title="Open incidents",
        prompts=[{"title": "INC-1", "message": "What should I do about INC-1?"}],
    )
    assert sandbox.workspace.titles[("D1", "1.0")] == "INC-1"
    assert sandbox.workspace.suggested_prompts[("D1", "1.0")]["prompts"][0]["title"] == "INC-1"
    with pytest.raises(SlackApiError):
        await web.assistant_threads_setSuggestedPrompts(
            channel_id="D1", prompts=[{"title": "t", "message": "m"}] * 5
        )
