"""Block Kit rendering: layout, escaping of untrusted text, and Slack's limits.

Every rendered message is also parsed with slack_sdk's own block classes and validated, so the
SDK's limits are checked as well as ours.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.models import (
    Alert,
    AlertLinks,
    AlertRecord,
    RollbackPlan,
    RunbookRef,
    TriageAnswer,
    TriageResult,
    Usage,
)
from bot.render.blocks import (
    MAX_TOTAL_TEXT,
    escape_mrkdwn,
    fit_blocks,
    link,
    render_error,
    render_help,
    render_placeholder,
    render_runbook,
    render_status,
    render_triage,
    safe_url,
    section,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u202e\u2066"
TITLES = [
    "*Immediate actions*",
    "*Implementation plan*",
    "*Monitoring strategy*",
    "*Risk mitigation*",
    "*Rollback plan*",
    "*Performance benchmarks / success criteria*",
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
        out += [e["text"] for e in block.get("elements") or [] if "text" in e]
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


# --------------------------------------------------------------------------- layout


def test_triage_layout_and_section_order() -> None:
    blocks, fallback = render_triage(make_result(), alert=make_alert())
    assert_valid(blocks, fallback)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "🧙 Wizard triage: OrderGatewayLatencyHigh"
    context = blocks[1]["elements"][0]["text"]
    for fact in ("alertmanager", "critical", "oms", "production", "confidence medium"):
        assert fact in context
    text = joined(blocks)
    positions = [text.index(title) for title in TITLES]
    assert positions == sorted(positions)
    assert text.index("Order gateway p99") < positions[0]
    tail = ["*Clarifying questions*", "*Evidence*", "*Compliance notes*", "*Notes*", "Runbook:"]
    tail_positions = [text.index(t) for t in tail]
    assert tail_positions == sorted(tail_positions)
    assert tail_positions[0] > positions[-1]
    assert "1. Page the OMS on-call\n2. Freeze deploys to oms" in text
    assert "`v1.4.2` (from deploy history)" in text
    assert "Runbook fallback" not in text
    assert blocks[-1]["type"] == "context"
    assert "OrderGatewayLatencyHigh" in fallback


def test_heading_and_no_alert() -> None:
    blocks, fallback = render_triage(make_result(), heading="Follow-up")
    assert blocks[0]["text"]["text"] == "🧙 Follow-up"
    assert "confidence medium" in joined(blocks)
    assert fallback.startswith("🧙 Follow-up")
    blocks, _ = render_triage(make_result())
    assert blocks[0]["text"]["text"] == "🧙 Wizard answer"


@pytest.mark.parametrize("fallback", [True, False])
def test_fallback_banner_present_iff_fallback(fallback: bool) -> None:
    result = make_result(
        fallback=fallback,
        fallback_reason="anthropic timeout after 20s" if fallback else None,
        model=None if fallback else "claude-sonnet-4-5",
        usage=Usage() if fallback else Usage(input_tokens=1, output_tokens=1),
    )
    blocks, text = render_triage(result, alert=make_alert())
    assert_valid(blocks, text)
    body = joined(blocks)
    banner = "⚠️ *Runbook fallback* — the model was unavailable: anthropic timeout after 20s"
    assert (banner in body) is fallback
    assert ("Runbook fallback" in body) is fallback
    assert ("(runbook fallback)" in text) is fallback
    if fallback:
        banner_index = next(i for i, b in enumerate(blocks) if "Runbook fallback" in str(b))
        summary_index = next(i for i, b in enumerate(blocks) if "Order gateway p99" in str(b))
        assert banner_index < summary_index
        assert "no model (runbook fallback)" in blocks[-1]["elements"][0]["text"]


def test_rollback_unknown_without_target() -> None:
    for plan in (
        RollbackPlan(),
        RollbackPlan(target_version="v9.9.9", target_known=False),  # not from deploy history
        RollbackPlan(target_version=None, target_known=True),
    ):
        blocks, _ = render_triage(make_result(make_answer(rollback=plan)))
        rollback = next(t for t in texts(blocks) if "*Rollback plan*" in t)
        assert "unknown — confirm from deploy history" in rollback
        assert "v9.9.9" not in joined(blocks)
        assert "*Steps:*\n_none_" in rollback
        assert "*Abort criteria:*\n_none_" in rollback


def test_footer_has_model_latency_tokens_and_cost() -> None:
    blocks, _ = render_triage(make_result())
    footer = blocks[-1]
    assert footer["type"] == "context"
    assert blocks[-2]["type"] == "divider"
    text = footer["elements"][0]["text"]
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
    blocks, _ = render_triage(make_result(usage=Usage(cost_usd=cost)))
    assert f"cost {shown}" in blocks[-1]["elements"][0]["text"]


def test_runbook_link_and_plain_title() -> None:
    blocks, _ = render_triage(make_result())
    text = joined(blocks)
    assert "<https://wiki.example.com/runbooks/latency?x=1&amp;y=2|Order gateway latency>" in text
    ref = RunbookRef(id="latency", title="Order gateway latency", path="runbooks/latency.md")
    blocks, _ = render_triage(make_result(runbook=ref))
    line = next(t for t in texts(blocks) if "Runbook:" in t)
    assert "Order gateway latency" in line and "`latency`" in line and "<" not in line
    blocks, _ = render_triage(make_result(runbook=None))
    assert "Runbook:" not in joined(blocks)


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
    blocks, text = render_triage(result)
    assert_valid(blocks, text)
    body = joined(blocks)
    for title in TITLES:
        assert title in body
    assert "*Immediate actions*\n_none_" in body
    assert "*Implementation plan*\n_none_" in body
    for omitted in ("*Clarifying questions*", "*Evidence*", "*Compliance notes*", "*Notes*"):
        assert omitted not in body
    assert all(t.strip() for t in texts(blocks))


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U1>", "&lt;@U1&gt;"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
        (f"c{ZERO_WIDTH}h\x00a\x1b[31mn\x7fn\x85el", "cha[31mnn\nel"),
        ("line1\r\nline2\ttab", "line1\nline2\ttab"),
        ("tag\U000e0041\U000e0042s", "tags"),
    ],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


HOSTILE = f"<!channel> <@U1> <http://evil.example|click> & <#C1> {ZERO_WIDTH}x\x1b[2J"


def assert_inert(blocks: list[dict[str, Any]], fallback: str) -> None:
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    for text in headers:  # plain_text: never parsed, and no angle brackets at all
        assert "<" not in text and ">" not in text
        assert not any(ch in text for ch in ZERO_WIDTH + "\x1b")
    for text in [*texts([b for b in blocks if b["type"] != "header"]), fallback]:
        for markup in ("<!channel>", "<@U1>", "<http://evil", "<#C1>"):
            assert markup not in text
        assert not any(ch in text for ch in ZERO_WIDTH + "\x1b")
        # Every `<` left is one of our own links to an http(s) URL.
        for match in re.finditer(r"<([^>]*)>", text):
            assert match.group(1).startswith(("https://", "http://")), match.group(0)
        assert re.search(r"&(?!amp;|lt;|gt;)", text) is None


def test_untrusted_alert_and_model_text_is_inert() -> None:
    answer = make_answer(
        summary=HOSTILE,
        immediate_actions=[HOSTILE] * 2,
        implementation_plan=[HOSTILE],
        monitoring_strategy=[HOSTILE],
        risk_mitigation=[HOSTILE],
        rollback=RollbackPlan(target_version="v1`<!channel>", target_known=True, steps=[HOSTILE]),
        success_criteria=[HOSTILE],
        clarifying_questions=[HOSTILE],
        evidence=[HOSTILE],
        compliance_notes=[HOSTILE],
    )
    result = make_result(
        answer,
        fallback=True,
        fallback_reason=HOSTILE,
        model=HOSTILE,
        notes=[HOSTILE],
        runbook=RunbookRef(id=HOSTILE, title=HOSTILE, path="x", url="https://ok.example/r"),
    )
    alert = make_alert(
        name=HOSTILE,
        service=HOSTILE,
        environment=HOSTILE,
        links=AlertLinks(
            source="javascript:alert(1)",
            dashboard="https://ok.example/d?a=1|<!channel>",
            runbook="https://ok.example/rb?a=1&b=2",
        ),
    )
    blocks, fallback = render_triage(result, alert=alert)
    assert_valid(blocks, fallback)
    assert_inert(blocks, fallback)
    body = joined(blocks)
    assert "javascript:" not in body
    assert "<https://ok.example/rb?a=1&amp;b=2|alert runbook>" in body
    assert "dashboard" not in blocks[1]["elements"][-1]["text"]
    for render in (
        lambda: render_placeholder(alert, note=HOSTILE),
        lambda: render_error(HOSTILE),
        lambda: render_runbook(HOSTILE, {HOSTILE: [HOSTILE]}, "javascript:x"),
        lambda: render_status([AlertRecord(alert=alert, first_seen=NOW, last_seen=NOW)], now=NOW),
    ):
        blocks, fallback = render()
        assert_valid(blocks, fallback)
        assert_inert(blocks, fallback)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://grafana.example.com/d/x?from=now-1h&to=now", True),
        ("http://10.0.0.1:9093/#/alerts", True),
        ("HTTPS://EXAMPLE.COM", True),
        ("javascript:alert(1)", False),
        ("ftp://example.com/x", False),
        ("https://example.com/a|b", False),
        ("https://example.com/<!channel>", False),
        ("https://exa mple.com", False),
        ("https://example.com/\u202eexe", False),
        ("//example.com", False),
        ("", False),
        (None, False),
        ("https://example.com/" + "a" * 2000, False),
    ],
)
def test_safe_url(url: str | None, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok
    rendered = link(url, "label|<b>")
    if ok:
        assert rendered.lower().startswith("<http") and rendered.endswith("|label¦&lt;b&gt;>")
        assert "&to" not in rendered or "&amp;to" in rendered
    else:
        assert rendered == "label¦&lt;b&gt;"


# --------------------------------------------------------------------------- limits


def test_huge_answer_is_fitted_to_slack_limits() -> None:
    bullets = [f"step {i} " + ("x" * 1990) for i in range(200)]
    answer = make_answer(
        summary="s" * 100_000,
        immediate_actions=bullets,
        implementation_plan=bullets,
        monitoring_strategy=bullets,
        risk_mitigation=bullets,
        rollback=RollbackPlan(steps=bullets, verification=bullets, abort_criteria=bullets),
        success_criteria=bullets,
        evidence=bullets,
    )
    alert = make_alert(name="N" * 1000)
    result = make_result(answer, fallback=True, fallback_reason="r" * 10_000)
    blocks, fallback = render_triage(result, alert=alert)
    assert_valid(blocks, fallback)
    assert len(blocks[0]["text"]["text"]) <= 150
    note = blocks[-1]
    assert note["type"] == "context"
    match = re.match(
        r"…truncated: (\d+) more lines, see the audit record / `wizard triage` output",
        note["elements"][0]["text"],
    )
    assert match and int(match.group(1)) > 1000
    # The footer with model and cost survives the cut, just before the note.
    assert "cost $0.0123" in blocks[-2]["elements"][0]["text"]
    body = joined(blocks)
    assert "Runbook fallback" in body
    # Runaway fields are capped so the actions still make it into the message.
    assert "s" * 1000 in body and "s" * 1500 not in body
    assert "*Immediate actions*\n1. step 0 xxx" in body


def test_fit_blocks_splits_long_sections_at_line_boundaries() -> None:
    lines = [f"line {i:03d} " + "y" * 90 for i in range(100)]  # ~10 kB
    fitted = fit_blocks([section("\n".join(lines))], max_chars=100_000)
    assert len(fitted) == 4
    for block in fitted:
        text = block["text"]["text"]
        assert len(text) <= 3000
        assert all(re.fullmatch(r"line \d{3} y{90}", line) for line in text.split("\n"))
    rejoined = "\n".join(b["text"]["text"] for b in fitted).split("\n")
    assert rejoined == lines


def test_fit_blocks_never_splits_entities_or_links() -> None:
    line = ("&amp;" * 700) + " " + link("https://example.com/" + "p" * 300, "dash") + "&lt;" * 200
    fitted = fit_blocks([section(line)], max_chars=100_000)
    assert len(fitted) > 1
    for block in fitted:
        text = block["text"]["text"]
        assert len(text) <= 3000
        assert re.search(r"&(?!amp;|lt;|gt;)", text) is None
        assert text.count("<") == text.count(">")


def test_fit_blocks_caps_block_count() -> None:
    blocks = [section(f"item {i}") for i in range(120)]
    fitted = fit_blocks(blocks)
    assert len(fitted) == 50
    assert fitted[-1]["elements"][0]["text"].startswith("…truncated: 71 more lines")
    assert fitted[48]["text"]["text"] == "item 48"


def test_fit_blocks_normalizes_headers_contexts_and_fields() -> None:
    fitted = fit_blocks(
        [
            {"type": "header", "text": {"type": "plain_text", "text": "H\n" * 200}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"e{i}"} for i in range(23)],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "  "}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 5000}]},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"f{i}"} for i in range(15)]},
            {"type": "section", "text": {"type": "mrkdwn", "text": ""}},
        ]
    )
    assert [b["type"] for b in fitted] == [
        "header",
        "context",
        "context",
        "context",
        "context",
        "section",
        "section",
        "section",
    ]
    assert len(fitted[0]["text"]["text"]) <= 150 and "\n" not in fitted[0]["text"]["text"]
    assert [len(b["elements"]) for b in fitted[1:4]] == [10, 10, 3]
    assert len(fitted[4]["elements"][0]["text"]) <= 2000
    assert [len(b["fields"]) for b in fitted[5:7]] == [10, 5]
    assert fitted[7]["text"]["text"] == "_none_"
    assert_valid(fitted, "x")


# --------------------------------------------------------------------------- small replies


def test_placeholder() -> None:
    blocks, text = render_placeholder(make_alert())
    assert_valid(blocks, text)
    assert text == ("🧙 Looking into OrderGatewayLatencyHigh… (pulling context, asking the wizard)")
    blocks, text = render_placeholder(None, note="thinking about your question")
    assert "thinking about your question" in joined(blocks)


def test_help_lists_commands() -> None:
    blocks, text = render_help()
    assert_valid(blocks, text)
    body = joined(blocks)
    assert_inert(blocks, text)
    for command in (
        "/wizard &lt;question&gt;",
        "/wizard status",
        "/wizard runbook &lt;name|search&gt;",
        "/wizard help",
        "@wizard",
        "follow-up",
    ):
        assert command in body


def test_status_empty() -> None:
    blocks, text = render_status([])
    assert_valid(blocks, text)
    assert "No open alerts 🎉" in joined(blocks)


def record(i: int, severity: str = "warning", **kw: Any) -> AlertRecord:
    return AlertRecord(
        alert=make_alert(name=f"Alert{i:02d}", severity=severity, service=f"svc{i}"),
        first_seen=NOW - timedelta(minutes=i),
        last_seen=NOW,
        occurrences=i + 1,
        **kw,
    )


def test_status_lines_links_and_order() -> None:
    records = [
        record(5, "info"),
        record(90, "critical", channel="C123", thread_ts="1700000000.000100"),
        AlertRecord(  # naive datetimes are taken as UTC
            alert=make_alert(name="Naive", severity="high"),
            first_seen=datetime(2025, 3, 1, 11, 0),
            last_seen=datetime(2025, 3, 1, 11, 30),
        ),
    ]
    blocks, text = render_status(records, now=NOW)
    assert_valid(blocks, text)
    assert text == "3 open alerts"
    lines = blocks[1]["text"]["text"].split("\n")
    assert lines[0].startswith("🔴 *Alert90* — critical · svc90 · since 1h30m · ×91")
    assert lines[0].endswith(
        "<https://slack.com/app_redirect?channel=C123&amp;message_ts=1700000000.000100|thread>"
    )
    assert "*Naive* — high" in lines[1] and "since 1h00m" in lines[1]
    assert "*Alert05* — info" in lines[2] and "since 5m" in lines[2] and "thread" not in lines[2]


def test_status_caps_at_twenty_lines() -> None:
    blocks, text = render_status([record(i) for i in range(57)], now=NOW)
    assert_valid(blocks, text)
    lines = joined(blocks[1:]).split("\n")
    assert len([line for line in lines if line.startswith("🟡")]) == 20
    assert lines[-1] == "…and 37 more"
    assert "57 open alerts" in blocks[0]["text"]["text"]


def test_runbook_rendering() -> None:
    blocks, text = render_runbook(
        "Order gateway latency",
        {"Immediate actions": ["check p99", "page on-call"], "Rollback": []},
        "https://wiki.example.com/rb",
    )
    assert_valid(blocks, text)
    body = joined(blocks)
    assert blocks[0]["text"]["text"] == "📖 Order gateway latency"
    assert "*Immediate actions*\n• check p99\n• page on-call" in body
    assert "*Rollback*\n_none_" in body
    assert "<https://wiki.example.com/rb|Open the full runbook>" in body
    blocks, text = render_runbook("Empty", {}, None)
    assert_valid(blocks, text)
    assert "no sections" in joined(blocks)


def test_error_is_polite_and_escaped() -> None:
    blocks, text = render_error("No runbook matches '<!here>'.")
    assert_valid(blocks, text)
    assert text == "🧙 Sorry — No runbook matches '&lt;!here&gt;'."
