"""Runbook-fallback answers to follow-ups and questions, held to the issue's examples (issue 14
item 5): a follow-up gets the sections it asks about — never the whole runbook re-posted — and
says the model is unavailable; a question gets close runbooks only, and verification and abort
criteria that are never "none", even when no runbook matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Alert, Context, Deploy, TriageResult
from bot.render.answer import frame_for, render_answer
from bot.render.mrkdwn import NONE
from bot.triage.fallback import (
    PREVIOUS,
    answer_for_followup,
    answer_for_question,
    answer_from_runbook,
)
from bot.triage.paths import RUNBOOKS_DIR
from bot.triage.runbooks import FALLBACK_FLOOR_PCT, RunbookCatalog
from tests.harness import blocks_text

NOW = datetime.now(UTC)
REASON = "no ANTHROPIC_API_KEY configured"


@pytest.fixture(scope="module")
def catalog() -> RunbookCatalog:
    return RunbookCatalog.load(RUNBOOKS_DIR)


@pytest.fixture
def context() -> Context:
    alert = Alert.model_validate(
        {
            "source": "alertmanager",
            "status": "firing",
            "name": "OrderGatewayLatencyHigh",
            "severity": "critical",
            "service": "order-gateway",
            "environment": "prod",
            "fingerprint": "fp-ogw",
            "starts_at": NOW - timedelta(minutes=5),
        }
    )
    deploy = Deploy.model_validate(
        {
            "service": "order-gateway",
            "version": "2026.11.28-3",
            "previous_version": "2026.11.27-1",
            "actor": "ci-bot",
            "environment": "prod",
            "at": NOW - timedelta(minutes=12),
        }
    )
    return Context(
        alert=alert, deploys=[deploy], guidance=["XLON opens in 12 min: no change before it."]
    )


def rendered(answer: object) -> str:
    result = TriageResult.model_validate(
        {"answer": answer, "fallback": True, "fallback_reason": REASON, "prompt_hash": "x"}
    )
    shown = render_answer(result, frame_for(None, "Follow-up"))
    return blocks_text({"blocks": shown.first[0]}) + blocks_text({"blocks": shown.plan[0]})


def test_a_rollback_followup_gets_the_rollback_section_not_the_runbook_again(
    catalog: RunbookCatalog, context: Context
) -> None:
    question = "roll back now or wait for the open?"
    runbook, _ = catalog.match(context.alert)
    whole = answer_from_runbook(runbook, context, REASON)
    answer = answer_for_followup(runbook, context, question, REASON)
    assert answer.summary.startswith("The model is unavailable (no ANTHROPIC_API_KEY")
    assert "here is what I can tell you" in answer.summary and question in answer.summary
    assert "Rollback" in answer.summary and "Risk mitigation" in answer.summary
    # the direct answer: the target from deploy history, the rollback steps, the market guidance
    assert answer.immediate_actions[0] == "Rollback target from deploy history: 2026.11.27-1."
    first_step = runbook.sections["Rollback"][0].replace("<service>", "order-gateway")
    assert answer.immediate_actions[1] == first_step.replace(PREVIOUS, "2026.11.27-1")
    assert "<previous version" not in answer.model_dump_json()  # never the raw placeholder
    assert "XLON opens in 12 min: no change before it." in answer.immediate_actions
    # not the same whole runbook re-posted
    assert answer.immediate_actions != whole.immediate_actions
    assert answer.implementation_plan == [
        f"Unchanged: see the analysis above (runbook {runbook.id})."
    ]
    assert len(rendered(answer)) < len(rendered(whole))


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("what should we watch while it recovers?", "Monitoring strategy"),
        ("how do we know it is fixed?", "Success criteria"),
    ],
)
def test_a_followup_gets_the_section_its_words_ask_about(
    catalog: RunbookCatalog, context: Context, question: str, section: str
) -> None:
    runbook, _ = catalog.match(context.alert)
    answer = answer_for_followup(runbook, context, question, REASON)
    assert section in answer.summary
    assert runbook.sections[section][0].split("`")[0] in " ".join(answer.model_dump_json().split())


def test_an_unrecognised_followup_says_so_and_asks_back(
    catalog: RunbookCatalog, context: Context
) -> None:
    runbook, _ = catalog.match(context.alert)
    answer = answer_for_followup(runbook, context, "thoughts?", REASON)
    assert "here is what I can tell you" in answer.summary
    assert answer.immediate_actions and answer.clarifying_questions


def test_zero_downtime_question_gets_the_deploy_runbook_only_with_real_criteria(
    catalog: RunbookCatalog,
) -> None:
    question = "deploy our new algo to production with zero downtime"
    assert [r.id for r in catalog.search(question)] == [
        "deploy-error-rate-rollback",
        "pod-crashloop",
    ]
    close = catalog.search(question, floor_pct=FALLBACK_FLOOR_PCT)
    assert [r.id for r in close] == ["deploy-error-rate-rollback"]
    answer = answer_for_question(close, question, REASON)
    assert answer.rollback.verification and answer.rollback.abort_criteria
    text = rendered(answer)
    assert "<previous version" not in answer.model_dump_json()
    assert "*Verification:*\n" + NONE not in text and "*Abort criteria:*\n" + NONE not in text


def test_a_question_no_runbook_matches_gets_honest_general_guidance(
    catalog: RunbookCatalog,
) -> None:
    question = "what is the capital of France?"
    assert catalog.search(question) == []
    answer = answer_for_question([], question, REASON)
    assert "no runbook matches" in answer.summary and "general guidance" in answer.summary
    assert answer.rollback.verification and answer.rollback.abort_criteria
    for part in (answer.implementation_plan, answer.monitoring_strategy, answer.success_criteria):
        assert part and not any("Not available" in item for item in part)
    text = rendered(answer)
    assert NONE not in text
