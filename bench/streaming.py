"""How soon after the model's first token are a follow-up's first words visible in Slack?

The real bot (embedded Redis, the local Slack sandbox with chat.startStream / appendStream /
stopStream, the real anthropic and slack-sdk clients) answers `--followups` thread follow-ups
from a fake model that streams at a set pace (`--ttft` to the first text token, then
`--tokens-per-s`). For each: the time from the model's first text token (when the fake wrote it)
to the first text Slack holds (the chat.startStream call carrying it), and to the whole answer.
Side by side, in the same run, the non-streaming path — the same bot where Slack answers
`unknown_method` to chat.startStream, so the answer is posted whole when the model is done
(what every follow-up did before streaming). Target: first words ≤ 2 s after the first token.

The pace is an input, not a measurement (no real model is reachable here): the defaults are the
issue's 1.5 s to first token and 60 tokens/s.

    flock /tmp/wizard-bench.lock .venv/bin/python bench/streaming.py [--followups 20]
        [--ttft 1.5] [--tokens-per-s 60] [--answer-bullets 12] [--capture FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.fakes` and `tests.harness` live beside `bot`

from bot.devtools.slack import SlackSandbox  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.store.embedded import EmbeddedRedis  # noqa: E402
from tests import harness  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic  # noqa: E402
from tests.fakes.anthropic_stream import StreamPace, markdown_answer  # noqa: E402
from tests.fakes.anthropic_wire import JSONDict  # noqa: E402
from tests.test_end_to_end import alert_message  # noqa: E402

STREAMS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


def longer_answer(bullets: int) -> Any:
    """The fake's Markdown answer with `bullets` more lines of plan: a follow-up-sized answer."""

    def write(body: JSONDict) -> str:
        extra = "".join(
            f"- Step {n}: check the order gateway's p99 and reject rate on the dashboard, then "
            "compare with the hour before the deploy.\n"
            for n in range(1, bullets + 1)
        )
        return markdown_answer(body).replace(
            "## Monitoring strategy\n", extra + "\n## Monitoring strategy\n"
        )

    return write


def readable(message: dict[str, Any]) -> str:
    """A message as Slack shows it, in text: the streamed Markdown, then each block's text and
    each button's label (what the sandbox stored, not re-rendered)."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        text = block.get("text")
        if isinstance(text, str):
            lines.append(text.rstrip())
        elif isinstance(text, dict):
            lines.append(str(text.get("text", "")).rstrip())
        for element in block.get("elements") or []:
            if element.get("type") == "mrkdwn":
                lines.append(f"[{kind}] {element.get('text', '')}")
            elif element.get("type") == "button":
                lines.append(f"[button] {element['text']['text']}")
            elif element.get("type") == "feedback_buttons":
                lines.append(
                    f"[feedback] {element['positive_button']['text']['text']} / "
                    f"{element['negative_button']['text']['text']}"
                )
    return "\n".join(lines)


async def fallback_capture(root: Path) -> str:
    """The same follow-up in runbook-fallback mode (no model): what the thread gets."""
    server = EmbeddedRedis(root / "fallback" / "redis")
    await server.start()
    try:
        async with SlackSandbox() as sandbox:
            settings = harness.settings_for(
                sandbox=sandbox, redis_url=server.url, data_dir=root / "fallback", llm=None
            )
            bot = await harness.start_bot(settings, sandbox)
            try:
                ts = await bot.post_alert(alert_message())
                await bot.settle(60)
                human = sandbox.inject_message(
                    harness.ALERT_CHANNEL,
                    {
                        "type": "message",
                        "user": "U0ONCALL",
                        "text": "roll back now or wait for the open?",
                        "thread_ts": ts,
                    },
                )
                assert await bot.event(human) == 200
                await bot.drain(60)
                first = bot.slot_messages(harness.ALERT_CHANNEL, ts, "reply")[-1]
                plan = bot.slot_messages(harness.ALERT_CHANNEL, ts, "plan:reply")[-1]
            finally:
                await harness.stop_bot(bot)
    finally:
        await server.stop()
    return readable(first) + "\n--- (its plan, next in the thread) ---\n" + readable(plan)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return round(ordered[index], 3)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_s": percentile(values, 50),
        "p95_s": percentile(values, 95),
        "max_s": round(max(values), 3),
        "mean_s": round(statistics.fmean(values), 3),
    }


async def run(
    followups: int, pace: StreamPace, bullets: int, *, streaming: bool, root: Path
) -> tuple[dict[str, Any], str]:
    """`followups` follow-ups, one after another, each by another user (per-user caps)."""
    server = EmbeddedRedis(root / ("stream" if streaming else "plain") / "redis")
    await server.start()
    first_words: list[float] = []
    whole: list[float] = []
    asked_to_first: list[float] = []
    capture = ""
    try:
        async with SlackSandbox() as sandbox, FakeAnthropic() as llm:
            llm.text_responder = longer_answer(bullets)
            settings = harness.settings_for(
                sandbox=sandbox,
                redis_url=server.url,
                data_dir=root / ("stream" if streaming else "plain"),
                llm=llm,
                deadline_s=60,
            )
            bot = await harness.start_bot(settings, sandbox)
            try:
                ts = await bot.post_alert(alert_message())
                await bot.settle(60)
                llm.stream_pace(pace)
                for n in range(followups):
                    if not streaming:
                        sandbox.fail_next("chat.startStream", error="unknown_method")
                    before = len(sandbox.calls)
                    asked_at = time.time()
                    human = sandbox.inject_message(
                        harness.ALERT_CHANNEL,
                        {
                            "type": "message",
                            "user": f"U0BENCH{n:03d}",
                            "text": f"roll back now or wait for the open? ({n})",
                            "thread_ts": ts,
                        },
                    )
                    assert await bot.event(human) == 200
                    await bot.drain(120)
                    token_at = llm.streams.first_text_at[-1]
                    calls = sandbox.calls[before:]
                    if streaming:
                        shown = [c for c in calls if c.method in STREAMS]
                        first_at, done_at = shown[0].at, shown[-1].at
                        assert shown[0].method == "chat.startStream" and shown[0].params["chunks"]
                    else:
                        posts = [
                            c
                            for c in calls
                            if c.method == "chat.postMessage"
                            and '"slot": "reply"' in json.dumps(c.params.get("metadata"))
                        ]
                        assert not [c for c in calls if c.method == "chat.appendStream"]
                        first_at = done_at = posts[-1].at
                    first_words.append(first_at - token_at)
                    whole.append(done_at - token_at)
                    asked_to_first.append(first_at - asked_at)
                reply = bot.slot_messages(harness.ALERT_CHANNEL, ts, "reply")[-1]
                capture = readable(reply)
            finally:
                await harness.stop_bot(bot)
    finally:
        await server.stop()
    result = {
        "path": (
            "streamed (chat.startStream/appendStream/stopStream)"
            if streaming
            else "non-streaming (chat.startStream → unknown_method: posted whole)"
        ),
        "first_words_after_first_token": summary(first_words),
        "whole_answer_after_first_token": summary(whole),
        "first_words_after_question": summary(asked_to_first),
    }
    return result, capture


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--followups", type=int, default=20)
    parser.add_argument("--ttft", type=float, default=1.5)
    parser.add_argument("--tokens-per-s", type=float, default=60.0)
    parser.add_argument("--answer-bullets", type=int, default=12)
    parser.add_argument("--capture", type=Path, default=None, help="write the last reply here")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/streaming.json")
    args = parser.parse_args()
    configure_logging("ERROR")
    pace = StreamPace(args.ttft, args.tokens_per_s)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        streamed, streamed_capture = await run(
            args.followups, pace, args.answer_bullets, streaming=True, root=Path(tmp)
        )
        plain, plain_capture = await run(
            args.followups, pace, args.answer_bullets, streaming=False, root=Path(tmp)
        )
        fallback = await fallback_capture(Path(tmp)) if args.capture is not None else ""
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "pace (assumed)": {"ttft_s": args.ttft, "tokens_per_s": args.tokens_per_s},
        "answer_bullets_added": args.answer_bullets,
        "target_first_words_s": 2.0,
        "streamed": streamed,
        "non_streaming": plain,
        "met": streamed["first_words_after_first_token"]["p95_s"] <= 2.0,
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.out.write_text(text + "\n")
    if args.capture is not None:
        args.capture.write_text(
            "--- streamed follow-up, as the sandbox stored it ---\n"
            + streamed_capture
            + "\n--- the same follow-up where chat.startStream is unavailable ---\n"
            + plain_capture
            + "\n--- runbook-fallback mode (no model): the same question ---\n"
            + fallback
            + "\n"
        )


if __name__ == "__main__":
    asyncio.run(main())
