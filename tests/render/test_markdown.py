"""Terminal renderings: the triage answer as Markdown, and Block Kit messages as plain text."""

from __future__ import annotations

from decimal import Decimal

from bot.models import RollbackPlan, RunbookRef, Usage
from bot.render.markdown import triage_markdown
from bot.render.notes import render_help, render_status
from bot.render.text import blocks_to_text
from tests.render.helpers import ZERO_WIDTH, make_alert, make_answer, make_result, plan
from tests.render.test_blocks import HOSTILE

SECTIONS = [
    "## 1. Immediate actions",
    "## 2. Implementation plan",
    "## 3. Monitoring strategy",
    "## 4. Risk mitigation (incl. rollback)",
    "### Rollback plan",
    "## 5. Performance benchmarks / success criteria",
]


def test_markdown_has_all_five_sections_in_order() -> None:
    out = triage_markdown(make_result(), alert=make_alert())
    assert out.startswith("# 🧙 OrderGatewayLatencyHigh on oms\n")
    # The first screen, as in Slack: summary, top actions and rollback target before the plan.
    head, _, rest = out.partition("# 📋 Full plan · OrderGatewayLatencyHigh on oms")
    assert rest and "**Do now**\n1. Page the OMS on-call" in head
    assert "**Rollback target:** `v1.4.2` (from deploy history)" in head
    assert "confidence medium" in head and "## 1." not in head
    positions = [out.index(title) for title in SECTIONS]
    assert positions == sorted(positions)
    assert "1. Page the OMS on-call\n2. Freeze deploys to oms" in out
    assert "Target: `v1.4.2` (from deploy history)" in out
    for extra in ("## Clarifying questions", "## Evidence", "## Compliance notes", "## Notes"):
        assert out.index(extra) > positions[-1]
    assert "[dashboard](https://grafana.example.com/d/oms)" in out
    assert (
        "📖 **Runbook:** [Order gateway latency]"
        "(https://wiki.example.com/runbooks/latency?x=1&y=2)" in out
    )
    assert "Runbook fallback" not in out


def test_markdown_footer_has_model_tokens_and_cost() -> None:
    out = triage_markdown(make_result())
    footer = out.rstrip("\n").split("\n")[-1]
    assert out.rstrip("\n").split("\n")[-2] == "---"
    assert "model `claude-sonnet-4-5`" in footer
    assert "tokens in 12,345 · out 678 · cache read 9,000 · cache write 1,500" in footer
    assert "cost $0.0123" in footer
    assert "latency 2.3 s" in footer


def test_markdown_fallback_banner_and_unknown_rollback() -> None:
    result = make_result(
        make_answer(rollback=RollbackPlan(), clarifying_questions=[], evidence=[]),
        fallback=True,
        fallback_reason="circuit open",
        model=None,
        usage=Usage(cost_usd=Decimal("0")),
        notes=[],
        runbook=RunbookRef(id="latency", title="Latency", path="runbooks/latency.md"),
    )
    out = triage_markdown(result, heading="Follow-up")
    assert out.startswith("# 🧙 Follow-up\n")
    assert "> ⚠️ **Runbook fallback** — the model was unavailable: circuit open" in out
    assert out.index("Runbook fallback") < out.index("## 1. Immediate actions")
    assert out.index("**Rollback target:** **unknown") < out.index("## 1. Immediate actions")
    assert "**unknown — confirm from deploy history**" in out
    assert "**Steps:**\n_none_" in out
    assert "## Evidence" not in out and "## Clarifying questions" not in out
    assert "no model (runbook fallback)" in out and "cost $0.0000" in out
    assert "Latency (`latency`, runbooks/latency.md)" in out


def test_markdown_strips_terminal_escapes_and_invisibles() -> None:
    answer = make_answer(summary=HOSTILE, immediate_actions=[HOSTILE, "", "ok\nsecond line"])
    out = triage_markdown(make_result(answer, model=HOSTILE), alert=make_alert(name=HOSTILE))
    assert "\x1b" not in out
    assert not any(ch in out for ch in ZERO_WIDTH)
    assert "1. <!channel>" in out  # terminal text is shown as written, not Slack-escaped
    assert "2. ok\n   second line" in out
    assert "3." not in out.split("## 2.")[0].split("## 1.")[1]
    assert "**Do now**\n1. <!channel> <@U1>" in out


def test_blocks_to_text_renders_a_triage_message() -> None:
    answer = make_answer(summary="p99 <!channel> & friends")
    blocks, _ = plan(make_result(answer), make_alert())
    text = blocks_to_text(blocks)
    lines = text.split("\n")
    assert lines[0] == "📋 Full plan · OrderGatewayLatencyHigh on oms"
    assert set(lines[1]) == {"═"}
    assert "p99 <!channel> & friends" in text  # entities decoded for the terminal
    assert "dashboard (https://grafana.example.com/d/oms)" in text
    assert "Order gateway latency (https://wiki.example.com/runbooks/latency?x=1&y=2)" in text
    assert "─" * 40 in text
    for title in ("Immediate actions", "Rollback plan", "Performance benchmarks"):
        assert title in text
    assert "cost $0.0123" in lines[-1]


def test_blocks_to_text_handles_other_block_kinds() -> None:
    blocks = [
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*A*"},
                {"type": "plain_text", "text": "B &amp;"},
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "image", "alt_text": "logo", "image_url": "https://x/y.png"},
                {"type": "mrkdwn", "text": "<@U1> in <#C1|ops> says <!here>"},
            ],
        },
        {"type": "image", "alt_text": "graph", "image_url": "https://x/g.png"},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Ack"}}],
        },
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "rich\x1b[2J"}]}
            ],
        },
        {"type": "markdown", "text": "**md**"},
        {"type": "unknown"},
        "not a block",  # type: ignore[list-item]
    ]
    text = blocks_to_text(blocks)  # type: ignore[arg-type]
    assert text.split("\n") == [
        "*A*",
        "B &amp;",
        "  [logo] · @U1 in #ops says @here",
        "[image: graph]",
        "  [ Ack ]",
        "rich[2J",
        "**md**",
    ]


def test_blocks_to_text_of_small_replies() -> None:
    help_blocks, _ = render_help()
    assert "/wizard runbook <name|search>" in blocks_to_text(help_blocks)
    status_blocks, _ = render_status([])
    assert blocks_to_text(status_blocks) == "No open alerts 🎉"
    assert blocks_to_text([]) == ""
