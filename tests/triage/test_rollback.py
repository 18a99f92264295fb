"""Rollback plans as checked data: the suspect deploy, the target from history, per-strategy steps,
and a model plan that names a version history does not know being replaced (with a note)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anthropic
import pytest

from bot.models import Alert, Context, Deploy, RollbackPlan, TriageAnswer
from bot.render.answer import rollback_note
from bot.triage.llm import ModelClient
from bot.triage.paths import RUNBOOKS_DIR
from bot.triage.prompts import load_prompts
from bot.triage.rollback import history_plan, plan_from_history, suspect_deploy
from bot.triage.runbooks import RunbookCatalog
from bot.triage.versions import allowed_versions, check_model_plan, version_tokens
from bot.triage.wizard import Wizard
from tests.fakes.anthropic_api import FakeAnthropic

START = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
WINDOW = timedelta(hours=24)


def deploy(version: str, previous: str | None, minutes_before: int, **fields: object) -> Deploy:
    data: dict[str, object] = {
        "service": "order-gateway",
        "version": version,
        "previous_version": previous,
        "environment": "production",
        "actor": "ci-bot",
        "at": START - timedelta(minutes=minutes_before),
    }
    data.update(fields)
    return Deploy.model_validate(data)


def alert(**fields: object) -> Alert:
    data: dict[str, object] = {
        "source": "alertmanager",
        "status": "firing",
        "name": "HighErrorRate",
        "service": "order-gateway",
        "fingerprint": "fp-rb",
        "starts_at": START,
        "labels": {"namespace": "trading"},
    }
    data.update(fields)
    return Alert.model_validate(data)


def text(plan: RollbackPlan) -> str:
    return "\n".join([*plan.steps, *plan.verification, *plan.preconditions])


# --- the suspect deploy ------------------------------------------------------------------------
def test_deploy_then_alert_targets_previous_version() -> None:
    history = [deploy("v1.4.0", "v1.3.9", 300), deploy("v1.5.0", "v1.4.0", 10)]
    suspect = suspect_deploy(START, history, WINDOW)
    assert suspect is not None and suspect.version == "v1.5.0"
    plan = plan_from_history(suspect, "order-gateway", history=history, alert_start=START)
    assert (plan.target_version, plan.target_known) == ("v1.4.0", True)
    assert plan.source == "history" and plan.deploy == suspect and not plan.replaced
    assert "from v1.5.0 to v1.4.0" in plan.steps[0]
    assert plan.verification and plan.abort_criteria and plan.blast_radius


def test_deploy_after_alert_start_is_not_the_suspect_and_is_named() -> None:
    earlier = deploy("v1.5.0", "v1.4.0", 30)
    hotfix = deploy("v1.5.1", "v1.5.0", -5)  # five minutes AFTER the alert started
    suspect = suspect_deploy(START, [hotfix, earlier], WINDOW)
    assert suspect == earlier
    assert suspect_deploy(START, [hotfix], WINDOW) is None
    plan = plan_from_history(suspect, "order-gateway", history=[hotfix, earlier], alert_start=START)
    assert plan.target_version == "v1.4.0"
    later = [p for p in plan.preconditions if "v1.5.1" in p]
    assert later and "after the alert started" in later[0] and "not the cause" in later[0]


def test_suspect_respects_window_and_service() -> None:
    old = deploy("v1.0.0", "v0.9.0", 60 * 30)  # 30 h before: outside a 24 h window
    other = deploy("v9.0.0", "v8.0.0", 5, service="risk-engine")
    assert suspect_deploy(START, [old], WINDOW) is None
    assert suspect_deploy(START, [old], None) == old  # caller already bounded the history
    assert suspect_deploy(START, [other, old], None, service="order-gateway") == old
    naive = deploy("v2.0.0", "v1.0.0", 5, at=datetime(2026, 11, 28, 9, 25))  # CI sent no tz
    assert suspect_deploy(START, [naive], WINDOW) == naive


def test_no_deploy_means_unknown_target() -> None:
    plan = plan_from_history(None, "order-gateway", alert_start=START)
    assert plan.target_version is None and plan.target_known is False
    assert plan.strategy == "unknown" and plan.deploy is None and plan.blast_radius is None
    assert "UNKNOWN" in plan.steps[0] and "do not guess" in plan.steps[0]
    assert rollback_note(plan) is not None and "unknown" in rollback_note(plan)


def test_target_from_preceding_deploy_or_unknown_never_invented() -> None:
    alone = deploy("v2", None, 5)
    plan = plan_from_history(alone, "order-gateway", history=[alone], alert_start=START)
    assert (plan.target_version, plan.target_known) == (None, False)
    assert "UNKNOWN" in plan.steps[0]
    chained = [alone, deploy("v1", None, 90), deploy("v0", None, 200)]
    plan = plan_from_history(alone, "order-gateway", history=chained, alert_start=START)
    assert (plan.target_version, plan.target_known) == ("v1", True)
    staging = [alone, deploy("s1", None, 60, environment="staging")]
    plan = plan_from_history(alone, "order-gateway", history=staging, alert_start=START)
    assert plan.target_version is None  # another environment's deploy is not the previous one


# --- per-strategy steps ------------------------------------------------------------------------
def test_blue_green_switches_back_and_keeps_new_colour_warm() -> None:
    suspect = deploy("v1.5.0", "v1.4.0", 10, strategy="Blue/Green")
    plan = plan_from_history(suspect, "order-gateway", alert_start=START)
    steps = " ".join(plan.steps).lower()
    assert plan.strategy == "blue-green"
    assert "switch traffic back to the previous colour (v1.4.0)" in steps
    assert "warm" in steps and "redeploy" not in steps.replace("no redeploy", "")
    assert any("previous colour is still provisioned" in p for p in plan.preconditions)


def test_canary_is_aborted_with_weight_zero() -> None:
    suspect = deploy("v1.5.0", "v1.4.0", 10, strategy="canary")
    plan = plan_from_history(suspect, "order-gateway", alert_start=START, namespace="trading")
    assert plan.strategy == "canary"
    assert "Abort the canary of v1.5.0" in plan.steps[1]
    assert "weight to 0" in plan.steps[1]
    assert "kubectl argo rollouts abort order-gateway -n trading" in plan.steps[1]
    assert "only the canary's share" in (plan.blast_radius or "")


@pytest.mark.parametrize("strategy", ["rolling", "kubernetes", "RollingUpdate", "k8s"])
def test_kubernetes_undo_names_revision_only_when_known(strategy: str) -> None:
    previous = deploy("v1.4.0", "v1.3.9", 300, strategy=strategy, revision="41")
    suspect = deploy("v1.5.0", "v1.4.0", 10, strategy=strategy, revision="42")
    known = plan_from_history(
        suspect, "order-gateway", history=[previous, suspect], namespace="trading"
    )
    assert known.strategy in ("rolling", "kubernetes")
    assert any(
        "`kubectl rollout undo deployment/order-gateway -n trading --to-revision=41`" in s
        for s in known.steps
    )
    assert not any("rollout history" in s for s in known.steps)
    unknown = plan_from_history(suspect, "order-gateway", history=[suspect], namespace="trading")
    joined = "\n".join(unknown.steps)
    assert "`kubectl rollout history deployment/order-gateway -n trading`" in joined
    assert "--to-revision=<revision found above>" in joined and "--to-revision=4" not in joined
    assert joined.index("rollout history") < joined.index("rollout undo")


def test_helm_rollback_with_and_without_revision() -> None:
    previous = deploy("1.4.0", None, 300, strategy="helm", revision="7")
    suspect = deploy("1.5.0", "1.4.0", 10, strategy="helm", revision="8")
    plan = plan_from_history(suspect, "order-gateway", history=[previous, suspect])
    assert any("`helm rollback order-gateway 7 -n <namespace> --wait`" in s for s in plan.steps)
    assert any("helm list" in p for p in plan.preconditions)  # release name is an assumption
    blind = plan_from_history(suspect, "order-gateway", history=[suspect])
    assert any("`helm history order-gateway" in s for s in blind.steps)
    assert not any("helm rollback order-gateway 7" in s for s in blind.steps)


@pytest.mark.parametrize("strategy", [None, "teleport"])
def test_unknown_strategy_gets_generic_steps_and_a_question(strategy: str | None) -> None:
    suspect = deploy("v1.5.0", "v1.4.0", 10, strategy=strategy)
    plan = plan_from_history(suspect, "order-gateway", alert_start=START)
    assert plan.strategy == ("unknown" if strategy is None else "teleport")
    assert "confirm how order-gateway is deployed" in plan.steps[1]
    assert any("Redeploy v1.4.0" in s for s in plan.steps)
    assert not any("kubectl" in s or "helm" in s for s in plan.steps)
    assert "unknown" in (plan.blast_radius or "")


def test_preconditions_cover_artefact_migrations_and_change_control() -> None:
    plan = plan_from_history(deploy("v1.5.0", "v1.4.0", 10), "order-gateway")
    joined = " ".join(plan.preconditions)
    assert "artefact for v1.4.0" in joined
    assert "migrations" in joined and "ask ci-bot" in joined
    assert "SOX" in joined and "change ticket" in joined


def test_history_plan_uses_alert_start_service_and_namespace() -> None:
    context = Context(
        alert=alert(),
        deploys=[
            deploy("v1.5.1", "v1.5.0", -3, strategy="kubernetes"),
            deploy("v1.5.0", "v1.4.0", 10, strategy="kubernetes"),
            deploy("v7", "v6", 5, service="risk-engine"),
        ],
    )
    plan = history_plan(context)
    assert plan.deploy is not None and plan.deploy.version == "v1.5.0"
    assert plan.target_version == "v1.4.0"
    assert any("-n trading" in s for s in plan.steps)
    assert any("HighErrorRate" in v for v in plan.verification)


# --- checking the model's plan -----------------------------------------------------------------
HISTORY = [
    deploy("2026.11.27-1", "2026.11.26-4", 24 * 60 - 30),
    deploy("2026.11.28-3", "2026.11.27-1", 10),
]


def fallback() -> RollbackPlan:
    return plan_from_history(HISTORY[1], "order-gateway", history=HISTORY, alert_start=START)


def test_version_tokens_find_versions_not_noise() -> None:
    assert version_tokens("Roll back from v1.5.0 to 2026.11.27-1.") == ["v1.5.0", "2026.11.27-1"]
    assert version_tokens("redeploy registry.corp/og:2026.11.28-3 then sha abc1234f") == [
        "registry.corp/og:2026.11.28-3",
        "abc1234f",
    ]
    noise = "TLS 1.2, p99 < 250ms for 15 minutes on 10.0.0.12:8080 at 2026-11-28T10:00:00Z; "
    noise += "`kubectl rollout undo deployment/og --to-revision=3` POST /api/v2/silences app:web"
    assert version_tokens(noise) == []


def test_model_plan_with_invented_version_in_steps_is_replaced_with_note() -> None:
    model = RollbackPlan(
        target_version="2026.11.27-1",  # the target is fine...
        target_known=True,
        steps=["Redeploy order-gateway:9.9.9-invented, then verify."],  # ...the step is not
    )
    plan, notes = check_model_plan(model, HISTORY, fallback())
    assert plan.replaced and plan.source == "history"
    assert plan.rejected_versions == ["order-gateway:9.9.9-invented"]
    assert plan.target_version == "2026.11.27-1" and plan.target_known
    assert plan.steps == fallback().steps
    # the invented version is kept for the audit record but never quoted where Slack shows it
    assert len(notes) == 1 and "9.9.9-invented" not in notes[0] and "1 version(s)" in notes[0]
    assert "replaced" in notes[0] and "'2026.11.27-1'" in notes[0]
    assert "9.9.9-invented" not in (rollback_note(plan) or "x") and rollback_note(plan)


def test_model_target_not_in_history_is_replaced() -> None:
    model = RollbackPlan(target_version="v3.1.4", target_known=True, steps=["Roll back."])
    plan, notes = check_model_plan(model, HISTORY, fallback())
    assert plan.target_version == "2026.11.27-1" and plan.replaced
    assert "v3.1.4" not in notes[0] and plan.rejected_versions == ["v3.1.4"]


def test_model_target_equal_to_running_version_is_replaced() -> None:
    model = RollbackPlan(target_version="2026.11.28-3", target_known=True)
    plan, notes = check_model_plan(model, HISTORY, fallback())
    assert plan.replaced and plan.target_version == "2026.11.27-1"
    assert "running now" in notes[0]


def test_model_plan_within_history_is_kept_with_facts_filled_in() -> None:
    model = RollbackPlan(
        target_version="2026.11.27-1",
        target_known=False,  # the model was unsure; history confirms it
        steps=[
            "Roll order-gateway back from 2026.11.28-3 to order-gateway:2026.11.27-1.",
            "Keep p99 under 250ms for 15 minutes (TLS 1.2 unchanged).",
        ],
        verification=["Every pod runs 2026.11.27-1."],
    )
    plan, notes = check_model_plan(model, HISTORY, fallback())
    assert notes == [] and not plan.replaced and plan.source == "model"
    assert plan.steps == model.steps and plan.target_known
    assert plan.deploy == HISTORY[1] and plan.strategy == "unknown"
    assert plan.preconditions == fallback().preconditions  # the model gave none
    assert rollback_note(plan) is None


def test_v_prefix_spelling_is_normalised_to_history() -> None:
    history = [deploy("v1.5.0", "v1.4.0", 10)]
    base = plan_from_history(history[0], "order-gateway", history=history)
    plan, notes = check_model_plan(
        RollbackPlan(target_version="1.4.0", target_known=True, steps=["Roll to 1.4.0"]),
        history,
        base,
    )
    assert notes == [] and plan.target_version == "v1.4.0"


def test_no_history_rejects_any_version_and_keeps_versionless_plans() -> None:
    unknown = plan_from_history(None, None)
    plan, notes = check_model_plan(
        RollbackPlan(target_version=None, steps=["Redeploy v2.0.1 of the service."]), [], unknown
    )
    assert plan.replaced and plan.target_version is None and "v2.0.1" not in notes[0]
    assert plan.rejected_versions == ["v2.0.1"]
    plain = RollbackPlan(steps=["Confirm the last good version from CI before rolling back."])
    kept, notes = check_model_plan(plain, [], unknown)
    assert notes == [] and kept.steps == plain.steps and kept.source == "model"


def test_allowed_versions_are_history_versions() -> None:
    assert allowed_versions(HISTORY) == {"2026.11.26-4", "2026.11.27-1", "2026.11.28-3"}


# --- the wizard applies the check --------------------------------------------------------------
def wizard() -> Wizard:
    return Wizard(
        prompts=load_prompts(),
        catalog=RunbookCatalog.load(RUNBOOKS_DIR),
        client=None,
    )


def model_answer(rollback: RollbackPlan) -> TriageAnswer:
    return TriageAnswer(
        summary="Errors after the deploy.",
        immediate_actions=["Check the dashboard."],
        implementation_plan=["Roll back."],
        monitoring_strategy=["Watch 5xx."],
        risk_mitigation=["One change at a time."],
        rollback=rollback,
        success_criteria=["5xx under 0.1%."],
    )


def test_wizard_check_replaces_invented_steps_and_facts_name_the_suspect() -> None:
    context = Context(alert=alert(), deploys=[HISTORY[1], HISTORY[0]])
    invented = RollbackPlan(
        target_version="2026.11.27-1", target_known=True, steps=["kubectl set image og=og:6.6.6"]
    )
    checked, notes = wizard()._check(model_answer(invented), context)
    assert checked.rollback.replaced and checked.rollback.target_version == "2026.11.27-1"
    assert checked.rollback.deploy == HISTORY[1]
    assert not any("6.6.6" in n for n in notes) and "og:6.6.6" in checked.rollback.rejected_versions
    facts = wizard()._facts(context)
    assert "suspect_deploy (newest at or before the alert start): 2026.11.28-3" in facts
    assert "history_rollback_target: 2026.11.27-1" in facts


def test_argocd_rollback_suspends_auto_sync_and_uses_history_id() -> None:
    previous = deploy("0a1b2c3d4e5f", None, 300, strategy="argocd", revision="12")
    suspect = deploy("7f3c2a9e5b1d", "0a1b2c3d4e5f", 10, strategy="argocd", revision="13")
    plan = plan_from_history(suspect, "order-gateway", history=[previous, suspect])
    assert plan.strategy == "argocd" and plan.target_version == "0a1b2c3d4e5f"
    joined = "\n".join(plan.steps)
    assert joined.index("--sync-policy none") < joined.index(
        "`argocd app rollback order-gateway 12`"
    )


def test_spinnaker_redblack_is_blue_green() -> None:
    plan = plan_from_history(deploy("1.5.0", "1.4.0", 10, strategy="redblack"), "order-gateway")
    assert plan.strategy == "blue-green"
    assert any("previous colour (1.4.0)" in s for s in plan.steps)


async def test_wizard_through_the_sdk_replaces_a_plan_with_an_invented_version() -> None:
    """The real SDK, the fake model: the bot-only fields are not in the schema the model sees,
    and a plan whose steps name a version outside history is swapped for the history plan."""
    async with FakeAnthropic() as fake:

        def respond(body: dict) -> dict:
            answer = fake.default_answer(body)
            answer["rollback"] = {
                "target_version": "2026.11.27-1",
                "target_known": True,
                "steps": ["helm rollback order-gateway, image og:2026.12.01-9"],
                "verification": ["All pods run 2026.11.27-1."],
                "abort_criteria": ["Errors rise."],
                "preconditions": ["Migrations are backward compatible."],
                "blast_radius": "order-gateway in production",
            }
            return answer

        fake.responder = respond
        sdk = anthropic.AsyncAnthropic(api_key="test", base_url=fake.base_url, max_retries=0)
        client = ModelClient(
            sdk, model="claude-test", effort="medium", max_tokens=8000, deadline_s=10.0
        )
        wizard_ = Wizard(
            prompts=load_prompts(),
            catalog=RunbookCatalog.load(RUNBOOKS_DIR),
            client=client,
        )
        context = Context(alert=alert(), deploys=[HISTORY[1], HISTORY[0]])
        result = await wizard_.triage(context)
        await client.close()
        schema = fake.requests[0]["body"]["output_config"]["format"]["schema"]
    assert not result.fallback and fake.violations == []
    plan_props = set(schema["$defs"]["RollbackPlan"]["properties"])
    assert {"preconditions", "blast_radius"} <= plan_props
    assert not plan_props & {"deploy", "source", "replaced", "rejected_versions", "strategy"}
    rollback = result.answer.rollback
    assert rollback.replaced and rollback.rejected_versions == ["og:2026.12.01-9"]
    assert rollback.target_version == "2026.11.27-1" and rollback.deploy == HISTORY[1]
    assert not any("2026.12.01-9" in note for note in result.notes)
