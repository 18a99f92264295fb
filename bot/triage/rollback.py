"""Deploy-aware rollback plans as checked data.

A rollback is the most dangerous advice the wizard gives: rolling back to a version that never
ran, or "undoing" a deploy that happened after the incident began, turns one outage into two. So
the plan is built from deploy history alone (`plan_from_history`), and a model's plan is accepted
only when every version string in it appears in that history (`check_model_plan`); otherwise it
is replaced by the history plan and the reply says so. Everything here is pure: no I/O, no clock
except what the caller passes, easy to test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.models import Context, Deploy, RollbackPlan
from bot.text import clean_text
from bot.triage.strategies import DEFAULT, Strategy, load_strategies, spellings

MAX_TEXT = 120


def _clean(text: object, limit: int = MAX_TEXT) -> str:
    """Deploy fields come from an authenticated hook, but CI echoes branch names: keep them tame."""
    value = re.sub(r"[<>`*_~|]", "", clean_text(text if text is not None else "")).strip()
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def utc(moment: datetime) -> datetime:
    """Naive timestamps from CI are taken as UTC, so comparisons never raise."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def same_service(deploy: Deploy, service: str | None) -> bool:
    return bool(service) and deploy.service.strip().lower() == (service or "").strip().lower()


def normalise_strategy(strategy: str | None) -> str:
    """One spelling per strategy the plan knows; the recorded value (cleaned) otherwise."""
    if not strategy or not strategy.strip():
        return "unknown"
    key = strategy.strip().lower().replace(" ", "-")
    return spellings(load_strategies()).get(key, _clean(strategy, 40) or "unknown")


# --- which deploy --------------------------------------------------------------------------------
def suspect_deploy(
    alert_start: datetime,
    deploys: Sequence[Deploy],
    window: timedelta | None = None,
    *,
    service: str | None = None,
) -> Deploy | None:
    """The newest deploy at or before `alert_start` and no older than `window` before it.

    A deploy that landed after the alert started cannot have caused it (it may be someone's
    attempted fix), so it is never the suspect. `window=None` means the caller already bounded
    the history (the context store fetches only `WIZARD_DEPLOY_WINDOW_H`). `service`, when given,
    ignores other services' deploys.
    """
    start = utc(alert_start)
    floor = start - window if window is not None else None
    candidates = [
        d
        for d in deploys
        if (service is None or same_service(d, service))
        and utc(d.at) <= start
        and (floor is None or utc(d.at) >= floor)
    ]
    return max(candidates, key=lambda d: utc(d.at), default=None)


def deploys_after(
    alert_start: datetime, deploys: Sequence[Deploy], *, service: str | None = None
) -> list[Deploy]:
    """Deploys that landed after the alert started, oldest first: not the cause, but running."""
    start = utc(alert_start)
    later = [
        d for d in deploys if (service is None or same_service(d, service)) and utc(d.at) > start
    ]
    return sorted(later, key=lambda d: utc(d.at))


def rollback_target(deploy: Deploy, history: Sequence[Deploy]) -> tuple[Deploy | None, str | None]:
    """(the deploy record of the target if known, the target version) - never invented.

    The suspect's own `previous_version` wins; else the version of the deploy before it in the
    same service and environment. The record is returned too, for its revision and time.
    """
    earlier = sorted(
        (
            d
            for d in history
            if same_service(d, deploy.service)
            and d.environment == deploy.environment
            and utc(d.at) < utc(deploy.at)
        ),
        key=lambda d: utc(d.at),
        reverse=True,
    )
    if deploy.previous_version:
        record = next((d for d in earlier if d.version == deploy.previous_version), None)
        return record, deploy.previous_version
    if earlier:
        return earlier[0], earlier[0].version
    return None, None


# --- the plan from history ---------------------------------------------------------------------
def _blast_radius(strategy: Strategy, service: str, environment: str, current: str) -> str:
    return (
        f"{service} in {environment}: everything running {current}; {strategy.blast_radius}. "
        "Dependent services are not recorded in deploy history (unknown)."
    )


def _base_verification(service: str, alert_name: str | None, target: str) -> list[str]:
    alert = f"The alert {alert_name}" if alert_name else "The alert"
    return [
        f"{alert} resolves and stays resolved for at least 15 minutes.",
        f"Error rate and latency of {service} are back at their pre-deploy baseline on the "
        "dashboard.",
        f"The running version reported by the orchestrator / health endpoint is {target} on "
        "every instance.",
    ]


ABORT_CRITERIA = [
    "The rollback target cannot be confirmed from deploy history.",
    "The previous version needs a schema or config change that is not backward compatible "
    "(data migration already applied) - stop and escalate.",
    "Health checks of the rolled-back instances fail, or errors rise during the rollback.",
    "A market event (open, close, auction) is minutes away and the rollback cannot finish "
    "before it - hold, protect positions/orders first, and escalate to the desk lead.",
]
CHANGE_CONTROL = (
    "A change ticket or emergency-change approval is referenced for this rollback, and any "
    "change-freeze exception is recorded (SOX change control)."
)


def plan_from_history(
    deploy: Deploy | None,
    service: str | None,
    *,
    history: Sequence[Deploy] = (),
    alert_start: datetime | None = None,
    alert_name: str | None = None,
    namespace: str | None = None,
    runbook_steps: Sequence[str] = (),
) -> RollbackPlan:
    """The rollback plan deploy history supports, and no more.

    `deploy` is the suspect (see `suspect_deploy`); `history` the service's deploys (any order)
    used to find the version before it and to name deploys made after the alert started (they
    are running and a rollback reverts them too). Unknown facts are said to be unknown and
    turned into questions, never filled in.
    """
    name = _clean(service) or "<service>"
    ns = _clean(namespace, 60) if namespace else "<namespace>"
    later = deploys_after(alert_start, history, service=service) if alert_start else []
    later_notes = [
        f"{_clean(d.version)} was deployed at {utc(d.at).isoformat()} by {_clean(d.actor)}, "
        "after the alert started: not the cause, but it is running and a rollback reverts it "
        "too."
        for d in later
    ]
    if deploy is None:
        when = (
            f" at or before the alert start ({utc(alert_start).isoformat()})" if alert_start else ""
        )
        return RollbackPlan(
            target_version=None,
            target_known=False,
            steps=[
                f"Rollback target UNKNOWN: no deploy of {name} is recorded{when} in the deploy "
                "window, so a rollback may not be the fix. Confirm the last known good version "
                "from deploy history (CI/CD, `helm history`, `kubectl rollout history`) before "
                "rolling back; do not guess a version.",
                *runbook_steps,
            ],
            verification=_base_verification(
                name, _clean(alert_name) or None, "the confirmed good version"
            ),
            abort_criteria=list(ABORT_CRITERIA),
            strategy="unknown",
            preconditions=[
                "The last known good version is confirmed from deploy history (not recorded "
                "here).",
                *later_notes,
                CHANGE_CONTROL,
            ],
            blast_radius=None,
            deploy=None,
            source="history",
        )

    strategy = normalise_strategy(deploy.strategy)
    current = _clean(deploy.version)
    environment = _clean(deploy.environment)
    record, target = rollback_target(deploy, history)
    shown_target = _clean(target) if target else "<last known good version>"
    revision = _clean(record.revision, 40) if record is not None and record.revision else None
    steps: list[str] = []
    if target:
        derivation = (
            "the deploy record's previous_version"
            if deploy.previous_version
            else f"the preceding deploy record ({utc(record.at).isoformat() if record else '?'})"
        )
        steps.append(
            f"Roll {name} back in {environment} from {current} to {shown_target} (target from "
            f"{derivation}; {current} deployed by {_clean(deploy.actor)} at "
            f"{utc(deploy.at).isoformat()}; strategy: {strategy})."
        )
    else:
        steps.append(
            f"Rollback target UNKNOWN: the suspect deploy of {name} ({current} at "
            f"{utc(deploy.at).isoformat()}) does not record the previous version and no earlier "
            "deploy is in history. Confirm it from deploy history before rolling back; do not "
            "guess a version."
        )
    strategies = load_strategies()
    template = strategies.get(strategy, strategies[DEFAULT])
    if strategy not in strategies or strategy == DEFAULT:
        recorded = "not recorded" if strategy == "unknown" else f"'{strategy}' (not one I know)"
        steps.append(
            f"Deploy strategy {recorded}: confirm how {name} is deployed (blue-green, canary, "
            "rolling / Kubernetes, Helm, Argo CD) before choosing the rollback mechanism."
        )
    facts = {
        "service": name,
        "namespace": ns,
        "current": current,
        "target": shown_target,
        "revision": revision,
    }
    steps += template.render_steps(facts)
    steps += list(runbook_steps)

    preconditions = []
    if target:
        preconditions.append(
            f"The artefact for {shown_target} (image / package) is still available in the "
            "registry."
        )
    preconditions.append(
        f"Database / schema migrations shipped with {current} are backward compatible with "
        f"{shown_target}: deploy history does not say - ask {_clean(deploy.actor)} or the owning "
        "team before rolling back."
    )
    preconditions += template.render_preconditions(facts)
    preconditions += later_notes
    preconditions.append(CHANGE_CONTROL)

    verification = _base_verification(name, _clean(alert_name) or None, shown_target)
    verification += template.render_checks(facts)
    return RollbackPlan(
        target_version=target,
        target_known=target is not None,
        steps=steps,
        verification=verification,
        abort_criteria=list(ABORT_CRITERIA),
        strategy=strategy,
        preconditions=preconditions,
        blast_radius=_blast_radius(template, name, environment, current),
        deploy=deploy,
        source="history",
    )


def history_plan(
    context: Context, window: timedelta | None = None, runbook_steps: Sequence[str] = ()
) -> RollbackPlan:
    """`plan_from_history` for an alert's context: suspect at the alert's start, its service."""
    alert = context.alert
    start = alert.starts_at or (context.record.first_seen if context.record else None)
    start = start or datetime.now(UTC)
    history = [d for d in context.deploys if same_service(d, alert.service)]
    suspect = suspect_deploy(start, history, window, service=alert.service)
    return plan_from_history(
        suspect,
        alert.service,
        history=history,
        alert_start=start,
        alert_name=alert.name,
        namespace=alert.labels.get("namespace"),
        runbook_steps=runbook_steps,
    )
