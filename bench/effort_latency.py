"""Which WIZARD_EFFORT lets the first triage land inside WIZARD_LLM_DEADLINE_S?

The real bot (real Redis, the local Slack sandbox, the real anthropic SDK) triages one new alert
per effort level against the fake Messages API paced like a generating model: time to first
token + (thinking tokens bought by the effort + answer tokens) ÷ output speed. Side by side, in
the same run, the naive baseline — the call main made before issue 10: `messages.parse` with
`max_tokens=4096`, no thinking/effort (so the model's default, high), timeout = the deadline.

No real model is reachable here, so the pace is an input, not a measurement: the defaults are
Sonnet-class public figures (~1.5 s to first token, ~80 output tokens/s) and a guess at thinking
per effort; change them with the flags and re-run against what you observe (`latency` in every
reply footer). What the run measures is the bot end to end under that pace: whether the answer
lands, when, or which fallback is posted and why.

    flock /tmp/wizard-bench.lock .venv/bin/python bench/effort_latency.py [--deadline 25]
        [--ttft 1.5] [--tokens-per-s 80] [--answer-tokens 1200] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.fakes` and `tests.harness` live beside `bot`

import anthropic  # noqa: E402

from bot.devtools.slack import SlackSandbox  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.models import TriageAnswer  # noqa: E402
from bot.store.embedded import EmbeddedRedis  # noqa: E402
from tests import harness  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic  # noqa: E402
from tests.fakes.anthropic_wire import Pace  # noqa: E402
from tests.test_end_to_end import alert_message  # noqa: E402

EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Assumed thinking tokens per effort for a triage-sized task (inputs, not measurements).
THINKING = {"low": 300, "medium": 1500, "high": 4000, "xhigh": 8000, "max": 16000}


async def bot_triage(effort: str, pace: Pace, deadline: float, root: Path) -> dict[str, Any]:
    """One new alert through the real bot at `effort`: when did its analysis land, and how."""
    server = EmbeddedRedis(root / effort / "redis")
    await server.start()
    try:
        async with SlackSandbox() as sandbox, FakeAnthropic() as llm:
            llm.pace(pace)
            settings = harness.settings_for(
                sandbox=sandbox,
                redis_url=server.url,
                data_dir=root / effort,
                llm=llm,
                deadline_s=deadline,
                WIZARD_EFFORT=effort,
            )
            bot = await harness.start_bot(settings, sandbox)
            try:
                started = time.monotonic()
                ts = await bot.post_alert(alert_message(f"Effort{effort.title()}Latency"))
                async with asyncio.timeout(deadline + 30):
                    while not bot.slot_messages(harness.ALERT_CHANNEL, ts, "analysis:"):
                        await asyncio.sleep(0.02)
                landed = time.monotonic() - started
                text = harness.blocks_text(
                    bot.slot_messages(harness.ALERT_CHANNEL, ts, "analysis:")[0]
                )
                await bot.drain()
                record = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
            finally:
                await harness.stop_bot(bot)
    finally:
        await server.stop()
    audit = record[-1] if record else {}
    return {
        "effort": effort,
        "assumed_thinking_tokens": pace.thinking_by_effort[effort],
        "analysis_posted_s": round(landed, 2),
        "model_answer": "fake model answer" in text,
        "fallback_reason": audit.get("fallback_reason"),
        "cost_usd": audit.get("cost_usd"),
        "within_deadline": landed <= deadline + 1.0,
    }


async def baseline(pace: Pace, deadline: float) -> dict[str, Any]:
    """main before issue 10: parse, max_tokens=4096, no thinking/effort, timeout=deadline."""
    async with FakeAnthropic() as llm:
        llm.pace(pace)
        client = anthropic.AsyncAnthropic(api_key="k", base_url=llm.base_url, timeout=deadline)
        started = time.monotonic()
        outcome = "answer"
        try:
            async with asyncio.timeout(deadline):
                await client.messages.parse(
                    model="claude-sonnet-5-5",
                    max_tokens=4096,
                    messages=[{"role": "user", "content": "alertname=EffortBaseline firing"}],
                    output_format=TriageAnswer,
                )
        except TimeoutError:
            outcome = f"fallback: no answer within {deadline:g}s"
        except Exception as exc:  # a cut-off answer fails in the SDK's parser
            outcome = f"fallback: {type(exc).__name__} (usage lost with the exception)"
        await client.close()
    return {
        "effort": "unset (model default high)",
        "max_tokens": 4096,
        "analysis_posted_s": round(time.monotonic() - started, 2),
        "outcome": outcome,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deadline", type=float, default=25.0)
    parser.add_argument("--ttft", type=float, default=1.5)
    parser.add_argument("--tokens-per-s", type=float, default=80.0)
    parser.add_argument("--answer-tokens", type=int, default=1200)
    parser.add_argument("--efforts", default=",".join(EFFORTS))
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/effort_latency.json")
    args = parser.parse_args()
    configure_logging("ERROR")
    pace = Pace(args.ttft, args.tokens_per_s, args.answer_tokens, THINKING)
    with tempfile.TemporaryDirectory() as tmp:
        ours = [
            await bot_triage(effort, pace, args.deadline, Path(tmp))
            for effort in args.efforts.split(",")
        ]
    naive = await baseline(pace, args.deadline)
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load": os.getloadavg(),
        "deadline_s": args.deadline,
        "pace (assumed)": {
            "ttft_s": args.ttft,
            "tokens_per_s": args.tokens_per_s,
            "answer_tokens": args.answer_tokens,
            "thinking_by_effort": THINKING,
        },
        "bot": ours,
        "naive_baseline": naive,
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
