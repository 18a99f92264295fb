"""Shared builders for the render tests: answers, results, alerts, and Slack-limit checks.

Every rendered message is also parsed with slack_sdk's own block classes and validated, so the
SDK's limits are checked as well as ours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import Block

from bot.models import (
    Alert,
    AlertLinks,
    RollbackPlan,
    RunbookRef,
    TriageAnswer,
    TriageResult,
    Usage,
)
from bot.render.answer import RenderedAnswer, frame_for, render_answer
from bot.render.limits import MAX_TOTAL_TEXT, Message

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u202e\u2066"
TITLES = [
    "*1. Immediate actions*",
    "*2. Implementation plan*",
    "*3. Monitoring strategy*",
    "*4. Risk mitigation (incl. rollback)*",
    "*Rollback plan*",
    "*5. Performance benchmarks / success criteria*",
]


def make_answer(**overrides: Any) -> TriageAnswer:
    fields: dict[str, Any] = {
        "summary": "Order gateway p99 latency is 4x normal since the 14:02 deploy.",
        "immediate_actions": ["Page the OMS on-call", "Freeze deploys to oms"],
        "implementation_plan": ["Compare config of v1.4.2 and v1.4.3", "Fix the pool size"],
        "monitoring_strategy": ["Watch oms p99 < 5 ms on the latency dashboard"],
        "risk_mitigation": ["Rollback during market hours needs desk sign-off"],
        "rollback": RollbackPlan(
            target_version="v1.4.2",
            target_known=True,
            steps=["kubectl rollout undo deploy/oms"],
            verification=["p99 back under 5 ms for 10 min"],
            abort_criteria=["error rate rises above 1%"],
        ),
        "success_criteria": ["p99 < 5 ms for 30 min", "no rejected orders"],
        "clarifying_questions": ["Was the deploy a config-only change?"],
        "confidence": "medium",
        "evidence": ["deploy v1.4.3 at 14:02"],
        "compliance_notes": ["Record the rollback in the change ticket (SOX)"],
    }
    fields.update(overrides)
    return TriageAnswer(**fields)


def make_result(answer: TriageAnswer | None = None, **overrides: Any) -> TriageResult:
    fields: dict[str, Any] = {
        "answer": answer or make_answer(),
        "fallback": False,
        "model": "claude-sonnet-4-5",
        "prompt_hash": "0123456789abcdef",
        "usage": Usage(
            input_tokens=12345,
            output_tokens=678,
            cache_read_input_tokens=9000,
            cache_creation_input_tokens=1500,
            cost_usd=Decimal("0.01234"),
        ),
        "runbook": RunbookRef(
            id="latency",
            title="Order gateway latency",
            path="runbooks/latency.md",
            url="https://wiki.example.com/runbooks/latency?x=1&y=2",
        ),
        "latency_ms": 2345,
        "notes": ["context had 2 deploys"],
    }
    fields.update(overrides)
    return TriageResult(**fields)


def make_alert(**overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "source": "alertmanager",
        "status": "firing",
        "name": "OrderGatewayLatencyHigh",
        "severity": "critical",
        "service": "oms",
        "environment": "production",
        "fingerprint": "abc123",
        "links": AlertLinks(
            dashboard="https://grafana.example.com/d/oms",
            source="https://am.example.com/#/alerts",
        ),
    }
    fields.update(overrides)
    return Alert(**fields)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text string in a message, in order."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out += [f["text"] for f in block.get("fields") or []]
        for element in block.get("elements") or []:
            text = element.get("text")
            if isinstance(text, dict):
                text = text.get("text")
            if isinstance(text, str):
                out.append(text)
    return out


def joined(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(texts(blocks))


def assert_valid(blocks: list[dict[str, Any]], fallback: str) -> None:
    """Slack's limits, checked by us and by the SDK's own validators."""
    assert 0 < len(blocks) <= 50
    assert fallback.strip() and len(fallback) <= 3000
    total = 0
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict()["type"] == block["type"]
        kind = block["type"]
        if kind == "header":
            assert 0 < len(block["text"]["text"]) <= 150
            assert block["text"]["type"] == "plain_text"
        elif kind == "section":
            if "text" in block:
                assert block["text"]["text"].strip()
                assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields") or []) <= 10
            for field in block.get("fields") or []:
                assert field["text"].strip() and len(field["text"]) <= 2000
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["text"].strip() and len(element["text"]) <= 2000
    total = sum(len(t) for t in texts(blocks))
    assert total <= MAX_TOTAL_TEXT


def answer_of(
    result: TriageResult, alert: Alert | None = None, heading: str | None = None, **frame: Any
) -> RenderedAnswer:
    return render_answer(result, frame_for(alert, heading, **frame))


def plan(
    result: TriageResult, alert: Alert | None = None, heading: str | None = None, **frame: Any
) -> Message:
    """The full plan (all five parts) of an answer."""
    return answer_of(result, alert, heading, **frame).plan


def first(
    result: TriageResult, alert: Alert | None = None, heading: str | None = None, **frame: Any
) -> Message:
    """The first screen of an answer."""
    return answer_of(result, alert, heading, **frame).first
