"""A naive Slack AI bot, written the way most sample bots are: the comparison baseline.

Why it exists: figures for our bot mean little without a reference. This is the common shape of
"Slack bot + LLM" samples: a slack-bolt `AsyncApp` in HTTP mode (aiohttp, signature verification
on), one `message` listener that calls the Anthropic SDK's `messages.create` *inside* the handler
and then `chat_postMessage` in the alert's thread. No dedup, no queue, no placeholder.

`process_before_response=True`, as Lambda/FaaS-style samples set it (there the process may be
frozen once the response is sent, so all work happens before the ack): the HTTP ack to Slack
therefore waits for the LLM. Slack gives up after 3 s and redelivers the same event
(`X-Slack-Retry-Num`), which this bot handles again — that is the behaviour being measured.

Run standalone (env: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL, ANTHROPIC_API_KEY,
ANTHROPIC_BASE_URL, PORT), or import `build_app` / `serve` as `bench/compare.py` does.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web
from anthropic import AsyncAnthropic
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import DEFAULT_MODEL

SYSTEM = (
    "You are a helpful SRE assistant. Given an alert, say what is wrong and what to do, "
    "including a rollback plan."
)
MODEL = os.environ.get("WIZARD_MODEL") or DEFAULT_MODEL  # the model our bot uses: same work


def _alert_text(event: dict[str, Any]) -> str:
    """The message text, or its attachments' text when an integration posted only those."""
    text = str(event.get("text") or "")
    for attachment in event.get("attachments") or []:
        text += "\n" + str(attachment.get("title") or "") + "\n" + str(attachment.get("text") or "")
    return text.strip()


def build_app(
    *,
    slack_token: str,
    signing_secret: str,
    slack_api_url: str | None = None,
    anthropic_api_key: str,
    anthropic_base_url: str | None = None,
    model: str = MODEL,
) -> AsyncApp:
    """The whole bot: one listener, LLM call and reply inside it."""
    app = AsyncApp(
        client=AsyncWebClient(
            token=slack_token, base_url=slack_api_url or "https://slack.com/api/"
        ),
        signing_secret=signing_secret,
        process_before_response=True,
    )
    llm = AsyncAnthropic(api_key=anthropic_api_key, base_url=anthropic_base_url)

    @app.event("message")
    async def on_message(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("thread_ts"):
            return  # only top-level posts (alerts) are answered
        response = await llm.messages.create(
            model=model,
            max_tokens=1024,
            system=SYSTEM,
            messages=[{"role": "user", "content": f"Alert:\n{_alert_text(event)}"}],
        )
        answer = "".join(block.text for block in response.content if block.type == "text")
        await client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text=answer)

    return app


async def serve(app: AsyncApp, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve `POST /slack/events` with Bolt's own aiohttp app; returns the runner and port."""
    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])


async def _main() -> None:
    app = build_app(
        slack_token=os.environ["SLACK_BOT_TOKEN"],
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        slack_api_url=os.environ.get("SLACK_API_URL"),
        anthropic_api_key=os.environ["ANTHROPIC_API_KEY"],
        anthropic_base_url=os.environ.get("ANTHROPIC_BASE_URL"),
    )
    runner, port = await serve(app, port=int(os.environ.get("PORT", "3000")))
    print(f"naive bot listening on :{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(_main())
