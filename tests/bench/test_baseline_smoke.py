"""The benchmark's naive baseline bot still works: one alert in, one threaded LLM reply out.

Why: `bench/compare.py` compares our bot against this baseline; if a slack-bolt or anthropic
upgrade broke it, the comparison would silently measure errors instead of a bot.
"""

from __future__ import annotations

import aiohttp

from bench.baseline.naive_bot import build_app, serve
from bot.devtools.slack import SlackSandbox
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.signing import event_body, signed_headers

SECRET = "naive-baseline-signing-secret-0123"


async def test_one_signed_alert_gets_one_threaded_reply(
    sandbox: SlackSandbox, llm: FakeAnthropic
) -> None:
    app = build_app(
        slack_token="xoxb-naive-test",
        signing_secret=SECRET,
        slack_api_url=sandbox.base_url,
        anthropic_api_key="sk-ant-test-key-not-real",
        anthropic_base_url=llm.base_url,
    )
    runner, port = await serve(app)
    try:
        alert = sandbox.inject_message(
            "C0ALERTS",
            {
                "subtype": "bot_message",
                "bot_id": "B0ALERTMGR",
                "text": "[FIRING:1] OrderGatewayLatencyHigh (order-gateway prod)",
            },
        )
        body = event_body(alert, event_id="EvNAIVE0001")
        async with aiohttp.ClientSession() as session:
            bad = signed_headers("not-the-secret", body)
            async with session.post(
                f"http://127.0.0.1:{port}/slack/events", data=body, headers=bad
            ) as r:
                assert r.status == 401  # signature verification is on
            headers = signed_headers(SECRET, body)
            async with session.post(
                f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
            ) as r:
                assert r.status == 200
        # process_before_response: the reply is posted before the ack returns
        replies = [m for m in sandbox.replies("C0ALERTS", alert["ts"]) if m["ts"] != alert["ts"]]
        assert len(replies) == 1
        assert "OrderGatewayLatencyHigh" in replies[0]["text"]
        assert llm.calls == 1
        assert "OrderGatewayLatencyHigh" in llm.requests[0]["body"]["messages"][0]["content"]
    finally:
        await runner.cleanup()
