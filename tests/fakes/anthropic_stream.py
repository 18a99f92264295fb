"""Streaming (`stream: true`) answers of the fake Messages API: paced like a generating model,
cut mid-answer on demand, and a free-text answer for requests without an output schema.

Why apart from the server: the streamed follow-up's latency figure ("first words ≤ 2 s after the
model's first token") depends on *when* the fake writes each text delta, so the pacing and the
timestamps it records live in one place a bench and a test can both read.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.anthropic_wire import CHARS_PER_TOKEN, JSONDict, sse_events, user_text

_QUESTION = re.compile(
    r"<untrusted_data source=\"question\">\s*(.*?)\s*</untrusted_data>", re.DOTALL
)


@dataclass
class StreamPace:
    """A streaming model's timing: the first text token `ttft_s` after the request, then
    `tokens_per_s` (deltas of `tokens_per_delta` tokens). Inputs, not measurements."""

    ttft_s: float
    tokens_per_s: float
    tokens_per_delta: int = 3


@dataclass
class StreamLog:
    """When the fake wrote each stream's first text delta (wall clock, `time.time()`)."""

    first_text_at: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)


def markdown_answer(body: JSONDict) -> str:
    """What the fake model says to a request without an output schema: a short Markdown answer
    in the five parts, quoting the question (so a test can tell answers apart)."""
    found = _QUESTION.findall(user_text(body))
    question = " ".join(found[-1].split())[:160] if found else "the question"
    return (
        f"Short answer to “{question}” (fake model answer): hold the rollback until the error "
        "rate is confirmed, then roll back to the previous version from deploy history.\n\n"
        "## Immediate actions\n"
        "- Check the error rate and p99 latency on the service dashboard.\n"
        "- Confirm the previous version in deploy history before acting.\n\n"
        "## Implementation plan\n"
        "- Drain one instance, redeploy the previous version, then roll forward instance by "
        "instance.\n\n"
        "## Monitoring strategy\n"
        "- Watch error rate, p99 and reject counts for 15 minutes.\n\n"
        "## Risk mitigation (incl. rollback)\n"
        "- Change one thing at a time; keep the current build warm for a roll-forward.\n\n"
        "## Performance benchmarks / success criteria\n"
        "- Error rate under 0.1% and p99 under SLO for 15 minutes.\n"
    )


def _text_deltas(message: JSONDict, chars: int) -> list[tuple[str, JSONDict]]:
    """`sse_events`, with each text block re-split into deltas of about `chars` characters."""
    events: list[tuple[str, JSONDict]] = []
    for kind, data in sse_events(message):
        delta = data.get("delta") or {}
        if kind == "content_block_delta" and delta.get("type") == "text_delta":
            continue  # re-split below, at content_block_stop of a text block
        if kind == "content_block_stop":
            block = message["content"][data["index"]]
            if block["type"] == "text":
                text = block["text"]
                events += [
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": data["index"],
                            "delta": {"type": "text_delta", "text": text[n : n + chars]},
                        },
                    )
                    for n in range(0, len(text), chars)
                ]
        events.append((kind, data))
    return events


async def paced_sse(
    request: web.Request,
    message: JSONDict,
    headers: dict[str, str],
    *,
    pace: StreamPace | None,
    cut_after_chars: int | None,
    log: StreamLog,
    stopping: asyncio.Event,
) -> web.StreamResponse:
    """The message as an event stream: thinking at once, the first text delta `ttft_s` after
    the request, then text at `tokens_per_s`; with `cut_after_chars` the connection is closed
    once that much text was written (no message_stop: what a proxy restart looks like)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **headers})
    await response.prepare(request)
    chars = (pace.tokens_per_delta if pace else 10) * CHARS_PER_TOKEN
    started = time.monotonic()
    sent_text = 0
    for kind, data in _text_deltas(message, chars):
        is_text = kind == "content_block_delta" and data["delta"].get("type") == "text_delta"
        if is_text and pace is not None:
            tokens_before = sent_text / CHARS_PER_TOKEN
            due = started + pace.ttft_s + tokens_before / pace.tokens_per_s
            wait = due - time.monotonic()
            if wait > 0:
                try:
                    await asyncio.wait_for(stopping.wait(), wait)
                except TimeoutError:
                    pass
        if is_text and cut_after_chars is not None and sent_text >= cut_after_chars:
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
        if is_text:
            if sent_text == 0:
                log.first_text_at.append(time.time())
            sent_text += len(data["delta"]["text"])
    await response.write_eof()
    log.done_at.append(time.time())
    return response
