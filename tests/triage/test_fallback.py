"""Runbook fallback answers: complete, grounded in the context, and never guessing a version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Alert, AlertRecord, Context, Deploy, PastAnswer, TriageAnswer
from bot.triage.fallback import answer_for_question, answer_from_runbook
from bot.triage.paths import RUNBOOKS_DIR
from bot.triage.runbooks import RunbookCatalog

NOW = datetime(2025, 3, 3, 14, 31, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> RunbookCatalog:
    return RunbookCatalog.load(RUNBOOKS_DIR)


def error_alert(**fields: object) -> Alert:
    data: dict[str, object] = {
        "source": "alertmanager",
        "status": "firing",
        "name": "HighErrorRate",
        "severity": "critical",
        "service": "pricing-engine",
        "environment": "prod",
        "summary": "5xx error rate 12% after deploy",
        "fingerprint": "fp-1",
        "starts_at": NOW,
        "labels": {"namespace": "trading"},
    }
    data.update(fields)
    return Alert.model_validate(data)


def deploy(version: str, previous: str | None, minutes_ago: int, **fields: object) -> Deploy:
    data: dict[str, object] = {
        "service": "pricing-engine",
        "version": version,
        "previous_version": previous,
        "actor": "ci-bot",
        "at": NOW - timedelta(minutes=minutes_ago),
    }
    data.update(fields)
    return Deploy.model_validate(data)


def answer(catalog: RunbookCatalog, context: Context) -> TriageAnswer:
    runbook, _ = catalog.match(context.alert)
    return answer_from_runbook(runbook, context, "no ANTHROPIC_API_KEY configured")


def all_text(result: TriageAnswer) -> str:
    return result.model_dump_json()


def test_rollback_target_from_latest_deploy(catalog: RunbookCatalog) -> None:
    context = Context(
        alert=error_alert(),
        deploys=[deploy("v1.4.0", "v1.3.9", 90), deploy("v1.5.0", "v1.4.0", 10)],
    )
    result = answer(catalog, context)
    assert result.rollback.target_version == "v1.4.0"
    assert result.rollback.target_known is True
    assert "from v1.5.0 to v1.4.0" in result.rollback.steps[0]
    assert result.rollback.verification and result.rollback.abort_criteria
    assert result.confidence == "low"
    assert any("v1.5.0" in e and "ci-bot" in e for e in result.evidence)


def test_deploys_of_other_services_ignored(catalog: RunbookCatalog) -> None:
    context = Context(alert=error_alert(), deploys=[deploy("v9", "v8", 5, service="risk-engine")])
    result = answer(catalog, context)
    assert result.rollback.target_version is None
    assert result.rollback.target_known is False


def test_no_deploy_history_means_unknown_target(catalog: RunbookCatalog) -> None:
    result = answer(catalog, Context(alert=error_alert()))
    assert result.rollback.target_version is None
    assert result.rollback.target_known is False
    assert "unknown" in result.rollback.steps[0].lower()
    assert "deploy history" in result.rollback.steps[0]
    assert any("No deploys" in e for e in result.evidence)


def test_missing_previous_version_uses_preceding_deploy_or_unknown(
    catalog: RunbookCatalog,
) -> None:
    alone = answer(catalog, Context(alert=error_alert(), deploys=[deploy("v2", None, 5)]))
    assert (alone.rollback.target_version, alone.rollback.target_known) == (None, False)
    chained = answer(
        catalog,
        Context(alert=error_alert(), deploys=[deploy("v2", None, 5), deploy("v1", None, 60)]),
    )
    assert (chained.rollback.target_version, chained.rollback.target_known) == ("v1", True)


def test_five_parts_complete_and_summary(catalog: RunbookCatalog) -> None:
    result = answer(catalog, Context(alert=error_alert()))
    for field in (
        "immediate_actions",
        "implementation_plan",
        "monitoring_strategy",
        "risk_mitigation",
        "success_criteria",
        "clarifying_questions",
        "compliance_notes",
        "evidence",
    ):
        assert getattr(result, field), field
    assert "fallback" in result.summary.lower()
    assert "no ANTHROPIC_API_KEY configured" in result.summary
    assert "deploy-error-rate-rollback" in result.summary
    assert any("SOX" in note for note in result.compliance_notes)


def test_placeholders_substituted(catalog: RunbookCatalog) -> None:
    result = answer(catalog, Context(alert=error_alert()))
    text = all_text(result)
    assert "<service>" not in text
    assert "pricing-engine" in " ".join(result.immediate_actions)
    crash = error_alert(
        name="KubePodCrashLooping", labels={"namespace": "trading", "pod": "pricer-0"}
    )
    crash_text = all_text(answer(catalog, Context(alert=crash)))
    assert "<namespace>" not in crash_text and "-n trading" in crash_text
    assert "<pod>" not in crash_text and "pricer-0" in crash_text


def test_placeholders_kept_when_unknown_or_unsafe(catalog: RunbookCatalog) -> None:
    unknown = answer(catalog, Context(alert=error_alert(service=None)))
    assert "<service>" in " ".join(unknown.immediate_actions)
    hostile = answer(catalog, Context(alert=error_alert(service="x <!channel> y")))
    text = all_text(hostile)
    assert "<!channel>" not in text
    assert "<service>" in text


def test_evidence_lists_context_facts(catalog: RunbookCatalog) -> None:
    alert = error_alert()
    context = Context(
        alert=alert,
        record=AlertRecord(alert=alert, first_seen=NOW, last_seen=NOW, occurrences=3),
        related=[AlertRecord(alert=error_alert(name="Other"), first_seen=NOW, last_seen=NOW)],
        past_answers=[PastAnswer(at=NOW, summary="Rolled back last time", fallback=False)],
        deploys=[deploy("v2", "v1", 5)],
    )
    evidence = " | ".join(answer(catalog, context).evidence)
    for fact in ("HighErrorRate", "firing", "critical", "pricing-engine", "prod", "3 time"):
        assert fact in evidence
    assert "1 related alert" in evidence
    assert "Rolled back last time" in evidence


def test_resolved_alert_says_so(catalog: RunbookCatalog) -> None:
    result = answer(catalog, Context(alert=error_alert(status="resolved")))
    assert result.immediate_actions[0].startswith("The alert is RESOLVED")


def test_fallback_is_deterministic(catalog: RunbookCatalog) -> None:
    context = Context(alert=error_alert(), deploys=[deploy("v2", "v1", 5)])
    assert answer(catalog, context) == answer(catalog, context)


def test_generic_fallback(catalog: RunbookCatalog) -> None:
    alert = error_alert(name="BadgeReaderOffline", summary="lobby", service="facilities")
    result = answer(catalog, Context(alert=alert))
    assert "generic-triage" in result.summary
    assert result.rollback.target_known is False


def test_answer_for_question(catalog: RunbookCatalog) -> None:
    question = "how do we do a zero-downtime deploy of an algo?"
    result = answer_for_question(catalog.search(question), question, "model timed out")
    assert "unavailable" in result.summary and "model timed out" in result.summary
    assert result.immediate_actions and result.success_criteria
    assert result.rollback.target_version is None and not result.rollback.target_known
    assert result.confidence == "low"


def test_answer_for_question_without_runbooks() -> None:
    result = answer_for_question([], "what is the meaning of life", "no key")
    assert "no runbook matches" in result.summary
    assert result.rollback.target_version is None
    assert result.clarifying_questions
