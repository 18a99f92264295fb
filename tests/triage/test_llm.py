"""The model client through the real anthropic SDK against the local fake Messages API.

What is measured is what went over the wire (the fake records every request) and what the
client made of each response: thinking and effort are sent, tools are never forced, every
stop_reason ends in an answer or a stated reason with usage and cost, retries fit the deadline,
and every response's headers reach an observer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from pydantic import AnyHttpUrl, SecretStr

from bot.models import TriageAnswer
from bot.settings import Settings
from bot.triage.llm import ModelClient
from bot.triage.providers import build_model_client
from tests.fakes.anthropic_api import FakeAnthropic, Scripted

SYSTEM: list[Any] = [{"type": "text", "text": "You are the wizard. " * 40}]
ASK: list[Any] = [{"role": "user", "content": "alertname=OrderGatewayLatencyHigh is firing"}]


def settings(fake: FakeAnthropic, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "ANTHROPIC_API_KEY": SecretStr("sk-ant-test"),
        "ANTHROPIC_BASE_URL": AnyHttpUrl(fake.base_url),
        "WIZARD_LLM_DEADLINE_S": 3.0,
        **extra,
    }
    return Settings(**values)


@pytest.fixture
async def client(llm: FakeAnthropic) -> AsyncIterator[ModelClient]:
    built = build_model_client(settings(llm))
    assert built is not None
    yield built
    await built.close()


async def ask(client: ModelClient) -> Any:
    return await client.structured(system=SYSTEM, messages=ASK, output=TriageAnswer)


async def test_request_sets_adaptive_thinking_effort_schema_and_never_forces_tools(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    reply = await ask(client)
    assert reply.cause == "ok" and isinstance(reply.parsed, TriageAnswer)
    assert "OrderGatewayLatencyHigh" in reply.parsed.summary
    body = llm.requests[-1]["body"]
    assert body["model"] == "claude-sonnet-5-5"
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"]["effort"] == "low"
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert "rollback" in body["output_config"]["format"]["schema"]["properties"]
    assert body["max_tokens"] == 16000
    assert "tool_choice" not in body
    # the response carried a signed thinking block before the answer; its tokens are output
    kinds = [block.type for block in reply.content]
    assert kinds == ["thinking", "text"] and reply.content[0].signature
    assert reply.usage.thinking_tokens > 0
    assert reply.usage.output_tokens > reply.usage.thinking_tokens
    assert reply.usage.cost_usd > 0 and reply.request_id.startswith("req_")


@pytest.mark.parametrize(
    ("turn", "cause", "words"),
    [
        (Scripted.max_tokens(), "max_tokens", "WIZARD_LLM_MAX_TOKENS"),
        (Scripted.refusal(), "refusal", "declined"),
        (Scripted.stop("pause_turn"), "pause_turn", "paused"),
        (Scripted.tool_use("prometheus_query", {"q": "up"}), "tool_use", "tool"),
        (Scripted.stop("model_context_window_exceeded"), "context_window", "context window"),
        (Scripted.stop("a_reason_from_the_future"), "unknown_stop", "a_reason_from_the_future"),
        (Scripted.answer(text='{"summary": "no other fields"}'), "unusable", "answer format"),
        (Scripted.answer(text=""), "no_answer", "no answer"),
    ],
)
async def test_every_stop_reason_gives_a_reason_and_keeps_usage_and_cost(
    client: ModelClient, llm: FakeAnthropic, turn: Scripted, cause: str, words: str
) -> None:
    llm.script(turn)
    reply = await ask(client)
    assert reply.parsed is None and reply.cause == cause
    assert words in (reply.problem or ""), reply.problem
    assert reply.stop_reason == turn.stop_reason
    assert reply.usage is not None and reply.usage.input_tokens > 0
    assert reply.usage.cost_usd is not None and reply.usage.cost_usd > 0


async def test_truncated_json_on_max_tokens_is_really_truncated(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    llm.script(Scripted.max_tokens())
    reply = await ask(client)
    text = "".join(b.text for b in reply.content if b.type == "text")
    assert text.startswith("{") and not text.rstrip().endswith("}")


async def test_stop_sequence_with_a_valid_answer_is_an_answer(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    llm.script(Scripted(stop_reason="stop_sequence"))
    assert (await ask(client)).cause == "ok"


async def test_headers_of_every_attempt_reach_the_observer(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    seen: list[Mapping[str, str]] = []
    client.on_headers(seen.append)
    llm.fail(529, times=1, retry_after=0)
    reply = await ask(client)
    assert reply.cause == "ok" and len(seen) == 2 and llm.calls == 2  # the SDK retried once
    for headers in seen:
        assert headers["request-id"].startswith("req_")
        for limit in ("requests", "tokens", "input-tokens", "output-tokens"):
            assert f"anthropic-ratelimit-{limit}-remaining" in headers
            assert f"anthropic-ratelimit-{limit}-reset" in headers
    assert seen[0]["retry-after"] == "0"


async def test_429_retry_lands_inside_the_deadline(client: ModelClient, llm: FakeAnthropic) -> None:
    llm.fail(429, times=1, retry_after=1)
    started = time.monotonic()
    reply = await ask(client)
    assert reply.cause == "ok" and llm.calls == 2
    assert 1.0 <= time.monotonic() - started < 3.0


async def test_retry_after_past_the_deadline_fails_now_not_at_the_deadline(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    llm.fail(429, retry_after=30)
    started = time.monotonic()
    reply = await ask(client)
    assert time.monotonic() - started < 1.0 and llm.calls == 1
    assert reply.cause == "http_429" and "retry after 30s" in (reply.problem or "")


async def test_a_hung_attempt_is_retried_within_the_deadline(llm: FakeAnthropic) -> None:
    built = build_model_client(
        settings(llm, WIZARD_LLM_DEADLINE_S=2.0, WIZARD_LLM_ATTEMPT_TIMEOUT_S=0.4)
    )
    assert built is not None
    llm.hang()
    started = time.monotonic()
    reply = await ask(built)
    elapsed = time.monotonic() - started
    await built.close()
    assert reply.cause == "timeout" and 1.9 <= elapsed < 2.5
    assert llm.calls >= 2  # the per-attempt timeout let the SDK try again inside the deadline


async def test_a_slow_valid_answer_near_the_deadline_still_lands(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    """By default one attempt may read for the whole deadline: a non-streaming answer sends
    nothing until done, so a shorter read limit would throw a valid 2.6 s answer away."""
    llm.delay(2.6)
    reply = await ask(client)
    assert reply.cause == "ok" and llm.calls == 1 and reply.latency_ms >= 2600


async def test_unknown_model_cost_is_unknown_not_sonnets(llm: FakeAnthropic) -> None:
    built = build_model_client(settings(llm, WIZARD_MODEL="claude-unreleased-9"))
    assert built is not None
    reply = await ask(built)
    await built.close()
    assert reply.cause == "ok" and reply.usage.input_tokens > 0
    assert reply.usage.cost_usd is None


async def test_exact_usage_is_priced_from_the_price_list(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 500, "cache_read_input_tokens": 2000}
    usage |= {"cache_creation_input_tokens": 0, "output_tokens_details": {"thinking_tokens": 200}}
    llm.script(Scripted.answer(usage=usage))
    reply = await ask(client)
    assert reply.usage.cost_usd == Decimal("0.0074") and reply.usage.thinking_tokens == 200


async def test_tool_loop_passes_thinking_back_and_the_fake_rejects_altered_thinking(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    """The seam issue 13's tool loop uses: request() + message() + interpret()."""
    llm.script(Scripted.tool_use("prometheus_query", {"query": "up"}), Scripted.answer())
    tools: list[Any] = [
        {"name": "prometheus_query", "description": "PromQL", "input_schema": {"type": "object"}}
    ]
    async with client.deadline():
        first = await client.message(client.request(system=SYSTEM, messages=ASK, tools=tools))
        assert first.stop_reason == "tool_use"
        call = next(b for b in first.content if b.type == "tool_use")
        result = {"type": "tool_result", "tool_use_id": call.id, "content": "up=1"}
        history: list[Any] = [
            *ASK,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ]
        body = client.request(system=SYSTEM, messages=history, tools=tools, schema=TriageAnswer)
        final = await client.message(body)
    assert client.interpret(final, TriageAnswer).cause == "ok"
    assert llm.tool_results() == [result]
    assert "tool_choice" not in llm.requests[-1]["body"]

    altered = [b.model_dump() for b in first.content]
    altered[0]["thinking"] = "edited by a careless client"
    body["messages"][1] = {"role": "assistant", "content": altered}
    with pytest.raises(anthropic.BadRequestError, match="signature"):
        await client.message(body)
    dropped = [b.model_dump() for b in first.content if b.type != "thinking"]
    body["messages"][1] = {"role": "assistant", "content": dropped}
    with pytest.raises(anthropic.BadRequestError, match="unchanged"):
        await client.message(body)


async def test_stream_text_yields_the_answer_in_deltas(
    client: ModelClient, llm: FakeAnthropic
) -> None:
    llm.script(Scripted.answer(text="Roll back order-gateway to 2026.11.27-1, then watch p99."))
    deltas = [d async for d in client.stream_text(system=SYSTEM, messages=ASK)]
    assert len(deltas) >= 2
    assert "".join(deltas) == "Roll back order-gateway to 2026.11.27-1, then watch p99."
    assert llm.requests[-1]["body"]["stream"] is True
