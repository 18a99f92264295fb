"""Escaping of untrusted text, Slack's limits (`fit_blocks`), and the small replies."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.models import AlertLinks, AlertRecord, RollbackPlan, RunbookRef
from bot.render.limits import fit_blocks, section
from bot.render.mrkdwn import escape_mrkdwn, link, safe_url
from bot.render.notes import (
    render_error,
    render_help,
    render_placeholder,
    render_runbook,
    render_status,
)
from tests.render.helpers import (
    NOW,
    TITLES,
    ZERO_WIDTH,
    assert_valid,
    first,
    joined,
    make_alert,
    make_answer,
    make_result,
    plan,
    texts,
)

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
    blocks, fallback = first(result, alert, incident_id=HOSTILE, answer_ref=HOSTILE)
    assert_valid(blocks, fallback)
    assert_inert(blocks, fallback)
    blocks, fallback = plan(result, alert)
    assert_valid(blocks, fallback)
    assert_inert(blocks, fallback)
    body = joined(blocks)
    assert "javascript:" not in body
    assert "<https://ok.example/rb?a=1&amp;b=2|alert runbook>" in body
    assert "dashboard" not in blocks[1]["elements"][0]["text"]
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
    blocks, fallback = plan(result, alert)
    assert_valid(blocks, fallback)
    assert len(blocks[0]["text"]["text"]) <= 150
    body = joined(blocks)
    # Every part is there, each cut to its share with a visible "…N more" note.
    for title in TITLES:
        assert title in body
    assert body.count("more, see the audit record / `wizard triage`") >= 8
    assert "*Evidence*" in body
    # The footer with model and cost is the last block.
    assert "cost $0.0123" in blocks[-1]["elements"][0]["text"]
    assert "Runbook fallback" in body
    # Runaway fields are capped so the actions still make it into the message.
    assert "s" * 700 in body and "s" * 900 not in body
    assert "*1. Immediate actions*\n1. step 0 xxx" in body


def test_fit_blocks_notes_what_it_cut() -> None:
    blocks = [section("\n".join(f"line {i} " + "z" * 200 for i in range(50)))] * 4
    fitted = fit_blocks([*blocks, section("footer")], keep_last=1)
    assert_valid(fitted, "x")
    match = re.match(
        r"…truncated: (\d+) more lines, see the audit record / `wizard triage` output",
        fitted[-1]["elements"][0]["text"],
    )
    assert match and int(match.group(1)) > 100
    assert fitted[-2]["text"]["text"] == "footer"


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
