"""An answer is two messages: a first screen that reads in ten seconds, then the full plan.

The first screen: summary, severity (with why it was raised), impact/session line, top three
immediate actions, rollback target or "unknown — confirm from deploy history", confidence,
buttons and feedback; ≤ 2,000 visible characters whatever the model wrote. The full plan: all
five parts of `bot.answer.PARTS`, in order, never dropped.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from bot.answer import PARTS
from bot.models import RollbackPlan, RunbookRef, TriageAnswer, TriageResult, Usage
from bot.render.answer import FIRST_SCREEN_MAX
from bot.render.feedback import ACTION_FEEDBACK, ACTION_WRONG_RUNBOOK, parse_feedback
from bot.render.limits import visible_chars
from tests.render.helpers import (
    TITLES,
    assert_valid,
    first,
    joined,
    make_alert,
    make_answer,
    make_result,
    plan,
    texts,
)


def test_first_screen_layout() -> None:
    answer = make_answer(
        immediate_actions=["Page the OMS on-call", "Freeze deploys", "Check p99", "Fourth", "Fifth"]
    )
    blocks, text = first(
        make_result(answer),
        make_alert(),
        headline="tier 1 · order entry · XLON opens in 12 min",
        raised_from="high",
        severity_reason="XLON opens in 12 min",
        incident_id="INC-7",
        answer_ref="job-1:analysis:INC-7",
    )
    assert_valid(blocks, text)
    assert blocks[0]["text"]["text"] == "🧙 OrderGatewayLatencyHigh on oms"
    body = joined(blocks)
    assert body.index("Order gateway p99") < body.index("*Do now*")
    assert "🔴 critical (raised from high: XLON opens in 12 min)" in body
    assert "tier 1 · order entry · XLON opens in 12 min" in body
    assert "confidence *medium*" in body
    assert "1. Page the OMS on-call\n2. Freeze deploys\n3. Check p99" in body
    assert "Fourth" not in body and "_+2 more in the plan below_" in body
    assert "*Rollback target:* `v1.4.2` (from deploy history)" in body
    for title in TITLES:  # the parts are in the plan, not on the first screen
        assert title not in body
    actions = next(b for b in blocks if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [
        "wizard_ack",
        "wizard_rerun",
        "wizard_runbook",
        ACTION_WRONG_RUNBOOK,
    ]
    assert all(e["value"] == "INC-7" for e in actions["elements"][:3])
    feedback = blocks[-1]
    assert feedback["type"] == "context_actions"
    element = feedback["elements"][0]
    assert element["type"] == "feedback_buttons" and element["action_id"] == ACTION_FEEDBACK
    verdict = parse_feedback(element["positive_button"]["value"])
    assert verdict is not None and verdict.verdict == "helpful"
    assert verdict.answer_ref == "job-1:analysis:INC-7"
    assert visible_chars(blocks) <= FIRST_SCREEN_MAX
    assert text.startswith("🧙 OrderGatewayLatencyHigh on oms")


def test_title_never_doubles_the_service() -> None:
    alert = make_alert(name="Kafka consumer lag high on risk-engine", service="risk-engine")
    blocks, _ = first(make_result(), alert)
    assert blocks[0]["text"]["text"] == "🧙 Kafka consumer lag high on risk-engine"
    blocks, _ = plan(make_result(), alert)
    assert blocks[0]["text"]["text"] == "📋 Full plan · Kafka consumer lag high on risk-engine"


def test_unknown_rollback_target_is_said_on_the_first_screen() -> None:
    for rollback in (
        RollbackPlan(),
        RollbackPlan(target_version="v9.9.9", target_known=False),
        RollbackPlan(target_version=None, target_known=True),
    ):
        result = make_result(make_answer(rollback=rollback))
        body = joined(first(result)[0])
        assert "*Rollback target:* *unknown — confirm from deploy history*" in body
        assert "v9.9.9" not in body and "v9.9.9" not in joined(plan(result)[0])
        rollback_text = next(t for t in texts(plan(result)[0]) if "*Rollback plan*" in t)
        assert "*Steps:*\n_none_" in rollback_text


def test_huge_answer_keeps_the_first_screen_short_and_the_plan_complete() -> None:
    long = ["x" * 1500 + f" step {i}" for i in range(30)]
    answer = make_answer(summary="s" * 50_000, immediate_actions=long, implementation_plan=long)
    result = make_result(answer, fallback=True, fallback_reason="r" * 5000)
    alert = make_alert(name="N" * 400)
    blocks, text = first(result, alert, headline="h" * 1000, incident_id="INC-1", answer_ref="j:s")
    assert_valid(blocks, text)
    assert visible_chars(blocks) <= FIRST_SCREEN_MAX
    assert blocks[-1]["type"] == "context_actions"  # the buttons survive
    assert "*Do now*\n1. xxx" in joined(blocks)
    blocks, text = plan(result, alert)
    assert_valid(blocks, text)
    body = joined(blocks)
    for title in TITLES:
        assert title in body


def test_plan_has_the_five_parts_in_order_then_the_extras() -> None:
    blocks, fallback = plan(make_result(), make_alert(), facts=["serves: oms (tier 1)"])
    assert_valid(blocks, fallback)
    assert blocks[0]["text"]["text"] == "📋 Full plan · OrderGatewayLatencyHigh on oms"
    text = joined(blocks)
    assert [f"*{p.number}. {p.title}*" for p in PARTS] == [
        t for t in TITLES if t != "*Rollback plan*"
    ]
    positions = [text.index(title) for title in TITLES]
    assert positions == sorted(positions)
    assert text.index("Order gateway p99") < positions[0]
    assert "serves: oms (tier 1)" in text
    tail = ["*Clarifying questions*", "*Evidence*", "*Compliance notes*", "*Notes*", "Runbook:"]
    tail_positions = [text.index(t) for t in tail]
    assert tail_positions == sorted(tail_positions) and tail_positions[0] > positions[-1]
    assert "1. Page the OMS on-call\n2. Freeze deploys to oms" in text
    assert "`v1.4.2` (from deploy history)" in text
    assert "Runbook fallback" not in text
    assert blocks[-1]["type"] == "context" and blocks[-2]["type"] == "divider"


def test_heading_and_no_alert() -> None:
    blocks, fallback = first(make_result(), heading="Follow-up")
    assert blocks[0]["text"]["text"] == "🧙 Follow-up"
    assert fallback.startswith("🧙 Follow-up")
    blocks, _ = first(make_result())
    assert blocks[0]["text"]["text"] == "🧙 Wizard answer"
    assert not [b for b in blocks if b["type"] in ("actions", "context_actions")]


@pytest.mark.parametrize("fallback", [True, False])
def test_fallback_banner_present_iff_fallback(fallback: bool) -> None:
    result = make_result(
        fallback=fallback,
        fallback_reason="anthropic timeout after 20s" if fallback else None,
        model=None if fallback else "claude-sonnet-5-5",
        usage=Usage() if fallback else Usage(input_tokens=1, output_tokens=1),
    )
    banner = "⚠️ *Runbook fallback* — the model was unavailable: anthropic timeout after 20s"
    for blocks, text in (first(result, make_alert()), plan(result, make_alert())):
        assert_valid(blocks, text)
        assert (banner in joined(blocks)) is fallback
    assert ("(runbook fallback)" in first(result)[1]) is fallback
    if fallback:
        blocks, _ = plan(result)
        assert "no model (runbook fallback)" in blocks[-1]["elements"][0]["text"]


def test_footer_has_model_latency_tokens_and_cost() -> None:
    blocks, _ = plan(make_result())
    text = blocks[-1]["elements"][0]["text"]
    assert "model `claude-sonnet-4-5`" in text
    assert "latency 2.3 s" in text
    assert "tokens in 12,345 · out 678 · cache read 9,000 · cache write 1,500" in text
    assert "cost $0.0123" in text


@pytest.mark.parametrize(
    ("cost", "shown"),
    [
        (Decimal("0"), "$0.0000"),
        (Decimal("0.00005"), "<$0.0001"),
        (Decimal("0.12345"), "$0.1235"),
        (Decimal("12"), "$12.0000"),
    ],
)
def test_cost_formatting(cost: Decimal, shown: str) -> None:
    blocks, _ = plan(make_result(usage=Usage(cost_usd=cost)))
    assert f"cost {shown}" in blocks[-1]["elements"][0]["text"]


def test_runbook_link_and_plain_title() -> None:
    text = joined(plan(make_result())[0])
    assert "<https://wiki.example.com/runbooks/latency?x=1&amp;y=2|Order gateway latency>" in text
    ref = RunbookRef(id="latency", title="Order gateway latency", path="runbooks/latency.md")
    line = next(t for t in texts(plan(make_result(runbook=ref))[0]) if "Runbook:" in t)
    assert "Order gateway latency" in line and "`latency`" in line and "<" not in line
    assert "Runbook:" not in joined(plan(make_result(runbook=None))[0])


def test_empty_lists_never_produce_empty_texts() -> None:
    answer = TriageAnswer(
        summary="",
        immediate_actions=[],
        implementation_plan=["", "   "],
        monitoring_strategy=[],
        risk_mitigation=[],
        rollback=RollbackPlan(),
        success_criteria=[],
    )
    result = TriageResult(answer=answer, fallback=True, prompt_hash="")
    for blocks, text in (first(result), plan(result)):
        assert_valid(blocks, text)
        assert all(t.strip() for t in texts(blocks))
    body = joined(plan(result)[0])
    for title in TITLES:
        assert title in body
    assert "*1. Immediate actions*\n_none_" in body
    for omitted in ("*Clarifying questions*", "*Evidence*", "*Compliance notes*", "*Notes*"):
        assert omitted not in body
    assert re.search(r"\*Do now\*\n_none_", joined(first(result)[0]))
