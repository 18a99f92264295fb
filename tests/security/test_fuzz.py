"""Property-based tests: hostile input never crashes the parsers, the renderer or redaction.

Why hypothesis: alert payloads, model answers and the text redaction sees are attacker-reachable
and the hand-written cases only cover what someone thought of. These properties are the contract
the pipeline relies on: `parse_payload` never raises and returns bounded alerts; `render_triage`
always produces a payload Slack accepts; `redact` and the answer guard never raise and are
idempotent. Example counts stay modest so the suite stays fast; the explicit examples pin the
1 MB and surrogate cases.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.alerts.common import MAX_DESCRIPTION, MAX_LABEL_CHARS, MAX_LABELS, MAX_NAME, MAX_SUMMARY
from bot.alerts.registry import MAX_ALERTS, parse_payload
from bot.devtools.slack import check_message
from bot.models import Alert, RollbackPlan, RunbookRef, TriageAnswer, TriageResult, Usage
from bot.redact import redact
from bot.render.answer import FIRST_SCREEN_MAX, frame_for, render_answer
from bot.render.limits import MAX_BLOCKS, MAX_HEADER, MAX_SECTION, visible_chars
from bot.triage.guard import GuardPolicy, clean_string

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MB = 1_000_000

# --------------------------------------------------------------------------- strategies

# Any code point, lone surrogates and controls included: what a JSON decoder can hand us.
any_char = st.characters(exclude_categories=())
nasty = st.sampled_from(
    [
        "\x00",
        "\x1b[31m",
        "\u202e",
        "\u200b",
        "\ud800",
        "\udfff",
        "\U000e0041",
        "<!channel>",
        "</untrusted_data>",
        "&amp;",
        "*_~`",
        "[FIRING:1] ",
        "https://evil.example/x",
        "\n",
    ]
)
text = st.one_of(
    st.text(any_char, max_size=40),
    st.lists(st.one_of(nasty, st.text(any_char, max_size=8)), max_size=12).map("".join),
    st.builds(lambda s, n: s * n, st.text(any_char, min_size=1, max_size=4), st.integers(0, 5_000)),
)
KEYS = [
    "type",
    "event",
    "subtype",
    "bot_id",
    "text",
    "attachments",
    "blocks",
    "elements",
    "fields",
    "title",
    "title_link",
    "fallback",
    "footer",
    "alerts",
    "labels",
    "annotations",
    "status",
    "version",
    "receiver",
    "groupKey",
    "AlarmName",
    "Message",
    "Type",
    "payload",
    "data",
    "summary",
]
keys = st.one_of(st.sampled_from(KEYS), st.text(any_char, max_size=12))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**5000),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=6),
    max_leaves=60,
)


def _nest(depth: int, leaf: Any, path: list[str]) -> Any:
    value = leaf
    for level in range(depth):
        key = path[level % len(path)]
        value = [value] if key == "[]" else {key: value, "type": "message", "bot_id": "B1"}
    return value


deep_values = st.builds(
    _nest,
    st.integers(1, 50),
    json_values,
    st.lists(st.sampled_from([*KEYS, "[]"]), min_size=1, max_size=6),
)

# --------------------------------------------------------------------------- parse_payload


def assert_bounded(alerts: list[Alert]) -> None:
    assert isinstance(alerts, list) and len(alerts) <= MAX_ALERTS
    for alert in alerts:
        assert isinstance(alert, Alert)
        assert len(alert.name) <= MAX_NAME
        assert len(alert.summary) <= MAX_SUMMARY
        assert len(alert.description) <= MAX_DESCRIPTION
        assert len(alert.fingerprint) <= 128
        assert len(alert.labels) <= MAX_LABELS
        assert all(
            len(k) <= MAX_LABEL_CHARS and len(v) <= MAX_DESCRIPTION for k, v in alert.labels.items()
        )
        for url in (alert.links.runbook, alert.links.dashboard, alert.links.source):
            assert url is None or len(url) <= 2000
        for value in (alert.name, alert.summary, alert.description):
            assert not any(ord(c) < 32 and c not in "\n\t" for c in value)


@FUZZ
@given(st.one_of(json_values, deep_values))
@example({"type": "message", "bot_id": "B1", "text": "x" * MB})
@example({"type": "message", "bot_id": "B1", "text": "\ud800" * MB})
@example({"type": "message", "bot_id": "B1", "attachments": [{"title": "[FIRING:1] " + "A" * MB}]})
@example({"version": "4", "alerts": [{"labels": {"alertname": "\x00" * MB}, "status": "firing"}]})
@example({"AlarmName": "y" * MB, "NewStateValue": "ALARM"})
@example({"type": "event_callback", "event": {"type": "message", "bot_id": "B", "text": "<" * MB}})
def test_parse_payload_never_raises_and_is_bounded(value: Any) -> None:
    assert_bounded(parse_payload(value))


# --------------------------------------------------------------------------- render_triage

texts = st.lists(text, max_size=30)
answers = st.builds(
    TriageAnswer,
    summary=text,
    immediate_actions=texts,
    implementation_plan=texts,
    monitoring_strategy=texts,
    risk_mitigation=texts,
    rollback=st.builds(
        RollbackPlan,
        target_version=st.none() | text,
        target_known=st.booleans(),
        steps=texts,
        verification=texts,
        abort_criteria=texts,
    ),
    success_criteria=texts,
    clarifying_questions=texts,
    confidence=st.sampled_from(["low", "medium", "high"]),
    evidence=texts,
    compliance_notes=texts,
)
results = st.builds(
    TriageResult,
    answer=answers,
    fallback=st.booleans(),
    fallback_reason=st.none() | text,
    model=st.none() | text,
    prompt_hash=text,
    usage=st.just(Usage()),
    runbook=st.none() | st.builds(RunbookRef, id=text, title=text, path=text, url=st.none() | text),
    latency_ms=st.integers(0, 10**9),
    notes=texts,
)
alerts = st.none() | st.builds(
    Alert,
    source=st.just("generic"),
    status=st.sampled_from(["firing", "resolved"]),
    name=text,
    fingerprint=text,
    service=st.none() | text,
    environment=st.none() | text,
)


def _block_texts(block: dict[str, Any]) -> list[str]:
    out = []
    if isinstance(block.get("text"), dict):
        out.append(block["text"]["text"])
    for element in block.get("elements") or []:
        label = element.get("text")
        out += [label["text"] if isinstance(label, dict) else label] if label else []
    out += [f["text"] for f in block.get("fields") or []]
    return out


@FUZZ
@given(results, alerts, st.none() | text)
@example(
    TriageResult(
        answer=TriageAnswer(
            summary="s" * MB,
            immediate_actions=["<!channel>" * 5000] * 30,
            implementation_plan=["&" * 4000],
            monitoring_strategy=[],
            risk_mitigation=["\n" * 5000],
            rollback=RollbackPlan(target_version="`" * 3000, target_known=True),
            success_criteria=["\ud800" * 3000],
        ),
        fallback=True,
        fallback_reason="r" * MB,
        prompt_hash="h",
    ),
    None,
    "H" * 1000,
)
def test_render_triage_is_always_a_valid_slack_payload(
    result: TriageResult, alert: Alert | None, heading: str | None
) -> None:
    rendered = render_answer(result, frame_for(alert, heading, incident_id="INC-1", answer_ref="j"))
    assert visible_chars(rendered.first[0]) <= FIRST_SCREEN_MAX
    for blocks, fallback_text in (rendered.first, rendered.plan):
        assert 0 < len(blocks) <= MAX_BLOCKS
        assert fallback_text.strip()
        for block in blocks:
            if block["type"] == "header":
                assert 0 < len(block["text"]["text"]) <= MAX_HEADER
            if block["type"] == "section" and "text" in block:
                assert 0 < len(block["text"]["text"]) <= MAX_SECTION
            assert all(t.strip() for t in _block_texts(block))
            Block.parse(block).validate_json()
        check_message(fallback_text, blocks)  # what the local Slack (and Slack) accept


# --------------------------------------------------------------------------- redact

SECRETISH = [
    "xoxb-",
    "xoxp-1234-",
    "xapp-1-",
    "AKIA",
    "sk-ant-",
    "sk-proj-",
    "ghp_",
    "glpat-",
    "eyJ",
    ".",
    "Bearer ",
    "token ",
    "password=",
    "api_key: '",
    "aws_secret_access_key=",
    "https://user:",
    "@host/",
    "https://hooks.slack.com/services/",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "account ",
    "acct#",
    "11=",
    "ClOrdID ",
    "client_name=",
    "strategy_id=",
    "[REDACTED:",
    "]",
    "0123456789ABCDEFGHIJ",
    "abcdefghijklmnopqrstuvwxyz012345",
]
redactable = st.one_of(
    text,
    st.lists(st.one_of(st.sampled_from(SECRETISH), st.text(any_char, max_size=6)), max_size=20).map(
        "".join
    ),
)


@FUZZ
@given(redactable)
@example("xoxb-" + "a" * MB)
@example("password=" + "\ud800" * 1000)
@example("-----BEGIN RSA PRIVATE KEY-----" + "k" * MB)
def test_redact_never_raises_and_is_idempotent(value: str) -> None:
    once = redact(value)
    assert isinstance(once, str)
    assert redact(once) == once


# --------------------------------------------------------------------------- the answer guard

GUARD = GuardPolicy(allowed_hosts=frozenset({"grafana.internal"}))
GUARD_FRAGMENTS = [
    "<!channel>",
    "<",
    ">",
    "!",
    "@here",
    "＠",
    "https://",
    "evil.example",
    "/x",
    "grafana.internal",
    "|",
    "[a](",
    ")",
    "xoxb-",
    "1234567890abc",
    " ",
    ".com",
    "\u200b",
    "\\u200b",
    "password=",
    "[REDACTED:",
    "]",
    "mailto:",
    "@",
]
guardable = st.one_of(
    text,
    st.lists(
        st.one_of(st.sampled_from(GUARD_FRAGMENTS), st.text(any_char, max_size=4)), max_size=25
    ).map("".join),
)


@FUZZ
@given(guardable)
@example("<!channel>" * 10_000)
def test_guard_never_raises_is_idempotent_and_leaves_no_mass_mention(value: str) -> None:
    once = clean_string(value, GUARD)
    assert clean_string(once, GUARD) == once
    assert len(once) <= GUARD.max_string
    assert not re.search(r"<\s*!\s*[^<>]*>", once)
    assert not re.search(r"@(here|channel|everyone)\b", once, re.IGNORECASE)
