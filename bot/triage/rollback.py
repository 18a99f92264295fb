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
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from bot.models import Context, Deploy, RollbackPlan
from bot.text import clean_text

MAX_TEXT = 120

# Strategy spellings CI systems use, mapped to the one the plan is built for.
_STRATEGIES = {
    "blue-green": "blue-green",
    "bluegreen": "blue-green",
    "blue/green": "blue-green",
    "blue_green": "blue-green",
    "canary": "canary",
    "rolling": "rolling",
    "rollingupdate": "rolling",
    "rolling-update": "rolling",
    "rolling_update": "rolling",
    "kubernetes": "kubernetes",
    "k8s": "kubernetes",
    "helm": "helm",
    "redblack": "blue-green",  # Spinnaker's name for blue-green
    "red/black": "blue-green",
    "argocd": "argocd",
    "argo-cd": "argocd",
}

# Version-looking tokens. Deliberately narrow: "TLS 1.2", "p99", "15 minutes", ports and
# timestamps are not versions, and a false alarm throws away a good plan.
_SEMVER = re.compile(
    r"(?<![\w.+/-])[vV]?\d+\.\d+\.\d+(?!\.\d)(?:[-+][0-9A-Za-z][0-9A-Za-z.+-]*)?(?![\w+])"
)
_VPREFIX = re.compile(r"(?<![\w.+/-])[vV]\d+(?:\.\d+)*(?:[-+][0-9A-Za-z][0-9A-Za-z.+-]*)?(?![\w+])")
_SHA = re.compile(r"(?<![\w.+/-])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![\w.-])")
_IMAGE = re.compile(
    r"(?<![\w.:/@-])(?P<name>[a-z][a-z0-9._/-]*[a-z0-9]):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"(?![\w:])"
)
_TRAILING = ".,;:)-"
KNOWN_STRATEGIES = ("blue-green", "canary", "rolling", "kubernetes", "helm", "argocd")


def _clean(text: object, limit: int = MAX_TEXT) -> str:
    """Deploy fields come from an authenticated hook, but CI echoes branch names: keep them tame."""
    value = re.sub(r"[<>`*_~|]", "", clean_text(text if text is not None else "")).strip()
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _utc(moment: datetime) -> datetime:
    """Naive timestamps from CI are taken as UTC, so comparisons never raise."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def same_service(deploy: Deploy, service: str | None) -> bool:
    return bool(service) and deploy.service.strip().lower() == (service or "").strip().lower()


def normalise_strategy(strategy: str | None) -> str:
    """One spelling per strategy the plan knows; the recorded value (cleaned) otherwise."""
    if not strategy or not strategy.strip():
        return "unknown"
    key = strategy.strip().lower().replace(" ", "-")
    return _STRATEGIES.get(key, _clean(strategy, 40) or "unknown")


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
    start = _utc(alert_start)
    floor = start - window if window is not None else None
    candidates = [
        d
        for d in deploys
        if (service is None or same_service(d, service))
        and _utc(d.at) <= start
        and (floor is None or _utc(d.at) >= floor)
    ]
    return max(candidates, key=lambda d: _utc(d.at), default=None)


def deploys_after(
    alert_start: datetime, deploys: Sequence[Deploy], *, service: str | None = None
) -> list[Deploy]:
    """Deploys that landed after the alert started, oldest first: not the cause, but running."""
    start = _utc(alert_start)
    later = [
        d for d in deploys if (service is None or same_service(d, service)) and _utc(d.at) > start
    ]
    return sorted(later, key=lambda d: _utc(d.at))


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
            and _utc(d.at) < _utc(deploy.at)
        ),
        key=lambda d: _utc(d.at),
        reverse=True,
    )
    if deploy.previous_version:
        record = next((d for d in earlier if d.version == deploy.previous_version), None)
        return record, deploy.previous_version
    if earlier:
        return earlier[0], earlier[0].version
    return None, None


# --- the plan from history ---------------------------------------------------------------------
def _strategy_steps(
    strategy: str,
    *,
    service: str,
    namespace: str,
    current: str,
    target: str,
    revision: str | None,
) -> list[str]:
    """Ordered, strategy-specific steps; `target` may be a placeholder when it is unknown."""
    if strategy == "blue-green":
        return [
            f"Confirm the previous colour still runs {target} and passes its health checks "
            "before switching.",
            f"Switch traffic back to the previous colour ({target}) at the router / load "
            "balancer / Service selector; no redeploy is needed.",
            f"Keep the new colour ({current}) running but out of traffic (warm) for diagnosis "
            "and a fast switch back; do not scale it down until the incident is closed.",
        ]
    if strategy == "canary":
        return [
            f"Abort the canary of {current}: set its traffic weight to 0 (e.g. "
            f"`kubectl argo rollouts abort {service} -n {namespace}` or the mesh/LB weight).",
            f"Confirm 100% of traffic is on the stable version {target}.",
            f"Mark the canary {current} failed so the pipeline does not promote it; scale it "
            "down once its logs and metrics are captured.",
        ]
    if strategy in ("rolling", "kubernetes"):
        deployment = f"deployment/{service} -n {namespace}"
        if revision:
            undo = [
                f"`kubectl rollout undo {deployment} --to-revision={revision}` (revision "
                f"{revision} ran {target} per deploy history)."
            ]
        else:
            undo = [
                f"`kubectl rollout history {deployment}`: find the revision whose image is "
                f"{target} (deploy history does not record it; do not guess).",
                f"`kubectl rollout undo {deployment} --to-revision=<revision found above>`.",
            ]
        return [
            *undo,
            f"`kubectl rollout status {deployment} --timeout=10m`: wait until every pod "
            f"runs {target}.",
        ]
    if strategy == "helm":
        if revision:
            undo = [
                f"`helm rollback {service} {revision} -n {namespace} --wait` (revision "
                f"{revision} ran {target} per deploy history)."
            ]
        else:
            undo = [
                f"`helm history {service} -n {namespace}`: find the revision whose app version "
                f"is {target} (deploy history does not record it; do not guess).",
                f"`helm rollback {service} <revision found above> -n {namespace} --wait`.",
            ]
        return [*undo, f"`helm status {service} -n {namespace}`: the deployed revision is new."]
    if strategy == "argocd":
        if revision:
            undo = [
                f"`argocd app rollback {service} {revision}` (history id {revision} ran {target} "
                "per deploy history)."
            ]
        else:
            undo = [
                f"`argocd app history {service}`: find the history id whose revision is {target} "
                "(deploy history does not record it; do not guess).",
                f"`argocd app rollback {service} <id found above>`.",
            ]
        return [
            f"Suspend auto-sync first (`argocd app set {service} --sync-policy none`): Argo CD "
            "refuses to roll back an auto-synced app and would re-apply Git.",
            *undo,
            f"`argocd app wait {service} --health --timeout 600`; then revert the change in Git "
            "so auto-sync can be turned back on safely.",
        ]
    return [
        f"Redeploy {target} of {service} through the same pipeline that deployed {current} "
        "(not by hand).",
        f"Watch the rollout until every instance reports {target}.",
    ]


def _strategy_checks(strategy: str, service: str, namespace: str, target: str) -> list[str]:
    if strategy == "blue-green":
        return ["The router / load balancer shows 100% of traffic on the previous colour."]
    if strategy == "canary":
        return ["The canary's weight is 0 and the stable version serves 100% of traffic."]
    if strategy in ("rolling", "kubernetes"):
        return [
            f"`kubectl rollout status deployment/{service} -n {namespace}` reports success and "
            f"every pod's image is {target}."
        ]
    if strategy == "helm":
        return [f"`helm status {service} -n {namespace}` is deployed with app version {target}."]
    if strategy == "argocd":
        return [f"`argocd app get {service}` shows Synced to {target} and Healthy."]
    return []


def _blast_radius(strategy: str, service: str, environment: str, current: str) -> str:
    how = {
        "blue-green": "traffic moves at once to the previous colour (every user of the service)",
        "canary": "only the canary's share of traffic moves; the stable version is untouched",
        "rolling": "instances are replaced gradually; both versions serve during the rollout",
        "kubernetes": "pods are replaced gradually; both versions serve during the rollout",
        "helm": "every resource in the Helm release returns to the old revision, config included",
        "argocd": "every resource of the Argo CD app returns to the old revision, config included",
    }.get(strategy, "how traffic moves is unknown (strategy not recorded)")
    return (
        f"{service} in {environment}: everything running {current}; {how}. Dependent services "
        "are not recorded in deploy history (unknown)."
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
        f"{_clean(d.version)} was deployed at {_utc(d.at).isoformat()} by {_clean(d.actor)}, "
        "after the alert started: not the cause, but it is running and a rollback reverts it "
        "too."
        for d in later
    ]
    if deploy is None:
        when = (
            f" at or before the alert start ({_utc(alert_start).isoformat()})"
            if alert_start
            else ""
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
            else f"the preceding deploy record ({_utc(record.at).isoformat() if record else '?'})"
        )
        steps.append(
            f"Roll {name} back in {environment} from {current} to {shown_target} (target from "
            f"{derivation}; {current} deployed by {_clean(deploy.actor)} at "
            f"{_utc(deploy.at).isoformat()}; strategy: {strategy})."
        )
    else:
        steps.append(
            f"Rollback target UNKNOWN: the suspect deploy of {name} ({current} at "
            f"{_utc(deploy.at).isoformat()}) does not record the previous version and no earlier "
            "deploy is in history. Confirm it from deploy history before rolling back; do not "
            "guess a version."
        )
    if strategy not in KNOWN_STRATEGIES:
        recorded = "not recorded" if strategy == "unknown" else f"'{strategy}' (not one I know)"
        steps.append(
            f"Deploy strategy {recorded}: confirm how {name} is deployed (blue-green, canary, "
            "rolling / Kubernetes, Helm, Argo CD) before choosing the rollback mechanism."
        )
    steps += _strategy_steps(
        strategy,
        service=name,
        namespace=ns,
        current=current,
        target=shown_target,
        revision=revision,
    )
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
    if strategy == "blue-green":
        preconditions.append("The previous colour is still provisioned and has not been recycled.")
    if strategy == "argocd":
        preconditions.append(
            "Auto-sync may be suspended for the app (change approved), and the Git revert is "
            "planned so the rollback is not undone by the next sync."
        )
    if strategy == "helm":
        preconditions.append(
            f"The Helm release is assumed to be named {name}; confirm with `helm list -n {ns}`."
        )
    preconditions += later_notes
    preconditions.append(CHANGE_CONTROL)

    verification = _base_verification(name, _clean(alert_name) or None, shown_target)
    verification += _strategy_checks(strategy, name, ns, shown_target)
    return RollbackPlan(
        target_version=target,
        target_known=target is not None,
        steps=steps,
        verification=verification,
        abort_criteria=list(ABORT_CRITERIA),
        strategy=strategy,
        preconditions=preconditions,
        blast_radius=_blast_radius(strategy, name, environment, current),
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


# --- checking a model's plan -------------------------------------------------------------------
def version_tokens(text: str) -> list[str]:
    """Every version-looking token in `text`: semver/CalVer, v-prefixed, git SHAs, image tags.

    Image references are returned whole (`name:tag`) so the check can accept either the whole
    reference or its tag. Order of first appearance, no duplicates.
    """
    found: list[str] = []
    spans: list[tuple[int, int]] = []

    def add(token: str, span: tuple[int, int]) -> None:
        token = token.rstrip(_TRAILING)
        if token and token not in found:
            found.append(token)
        spans.append(span)

    for match in _IMAGE.finditer(text):
        tag = match.group("tag").rstrip(_TRAILING)
        # a tag without a digit is a label ("app:web"), an all-digit one a port or a clock
        if re.search(r"\d", tag) and not tag.isdigit():
            add(match.group(0), match.span())
    for pattern in (_SEMVER, _VPREFIX, _SHA):
        for match in pattern.finditer(text):
            if any(a <= match.start() and match.end() <= b for a, b in spans):
                continue
            add(match.group(0), match.span())
    return found


def _norm(version: str) -> str:
    value = version.strip()
    return value[1:] if value[:1] in ("v", "V") and value[1:2].isdigit() else value


def allowed_versions(history: Iterable[Deploy]) -> set[str]:
    """Every version deploy history names (current and previous), as recorded."""
    versions: set[str] = set()
    for deploy in history:
        versions.add(deploy.version)
        if deploy.previous_version:
            versions.add(deploy.previous_version)
    return versions


def _allowed_forms(history: Iterable[Deploy]) -> set[str]:
    """History versions, the version-looking parts inside them, and their v-less spellings."""
    forms: set[str] = set()
    for version in allowed_versions(history):
        for token in [version, *version_tokens(version)]:
            forms.add(_norm(token))
            if ":" in token:
                forms.add(_norm(token.rsplit(":", 1)[1]))
    return forms


def _known(token: str, forms: set[str]) -> bool:
    candidates = {_norm(token)}
    if ":" in token:
        candidates.add(_norm(token.rsplit(":", 1)[1]))
    if candidates & forms:
        return True
    # a git SHA may be written short in one place and long in the other
    return any(
        re.fullmatch(r"[0-9a-f]{7,40}", c)
        and any(f.startswith(c) or c.startswith(f) for f in forms if len(f) >= 7)
        for c in candidates
    )


def _history_spelling(target: str, history: Iterable[Deploy]) -> str | None:
    """The history's own spelling of `target` (`1.4.0` → `v1.4.0`), or None if absent."""
    for version in sorted(allowed_versions(history)):
        if version == target or _norm(version) == _norm(target):
            return version
    return None


def _plan_texts(plan: RollbackPlan) -> list[str]:
    texts = [*plan.steps, *plan.verification, *plan.abort_criteria, *plan.preconditions]
    if plan.blast_radius:
        texts.append(plan.blast_radius)
    return texts


def check_model_plan(
    model_plan: RollbackPlan, history: Sequence[Deploy], fallback_plan: RollbackPlan
) -> tuple[RollbackPlan, list[str]]:
    """Hold the model's rollback plan to deploy history; replace it when it invents a version.

    Rejected: a `target_version` that history does not contain, a target equal to the version
    running now (no rollback at all), and any version-looking token in the plan's text that
    history does not contain. Then the whole plan is replaced by `fallback_plan` (the history
    plan), marked `replaced`, with one note naming what was rejected. A plan that stays within
    history is kept, with the bot's facts (suspect deploy, recorded strategy) filled in.
    """
    forms = _allowed_forms(history)
    rejected: list[str] = []
    target = (model_plan.target_version or "").strip() or None
    if target is not None and _history_spelling(target, history) is None:
        rejected.append(target)
    for text in _plan_texts(model_plan):
        for token in version_tokens(text):
            if not _known(token, forms) and token not in rejected:
                rejected.append(token)
    suspect = fallback_plan.deploy
    same_line = [
        d
        for d in history
        if suspect is not None
        and same_service(d, suspect.service)
        and d.environment == suspect.environment
    ]
    running = max(same_line, key=lambda d: _utc(d.at), default=None)
    names_running = (
        target is not None
        and running is not None
        and _history_spelling(target, [running]) == running.version
    )
    if rejected or names_running:
        replacement = fallback_plan.target_version if fallback_plan.target_known else None
        shown = repr(replacement) if replacement else "'unknown'"
        if rejected:
            listed = ", ".join(repr(v) for v in rejected[:5])
            more = f" and {len(rejected) - 5} more" if len(rejected) > 5 else ""
            note = (
                f"The model's rollback plan named version(s) not in the deploy history "
                f"({listed}{more}); replaced with the plan built from deploy history "
                f"(target {shown})."
            )
        else:
            note = (
                f"The model proposed rolling back to {target!r}, the version running now; "
                f"replaced with the plan built from deploy history (target {shown})."
            )
            rejected.append(target or "")
        plan = fallback_plan.model_copy(
            update={"replaced": True, "rejected_versions": rejected, "source": "history"}
        )
        return plan, [note]

    spelled = _history_spelling(target, history) if target else None
    kept = model_plan.model_copy(
        update={
            "target_version": spelled,
            "target_known": spelled is not None,
            "deploy": fallback_plan.deploy,
            "strategy": fallback_plan.strategy,
            "preconditions": model_plan.preconditions or list(fallback_plan.preconditions),
            "blast_radius": model_plan.blast_radius or fallback_plan.blast_radius,
            "source": "model",
            "replaced": False,
            "rejected_versions": [],
        }
    )
    return kept, []


def rollback_note(plan: RollbackPlan) -> str | None:
    """One line for the renderer: where the plan came from, when that is worth saying."""
    if plan.replaced:
        listed = ", ".join(plan.rejected_versions[:5]) or "a version"
        return (
            f"The model's plan named versions not in deploy history ({listed}); replaced with "
            "the plan built from deploy history."
        )
    if plan.source == "history" and plan.deploy is None:
        return "No deploy of this service is recorded before the alert started: target unknown."
    return None
