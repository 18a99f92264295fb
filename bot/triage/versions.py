"""Holding a model's rollback plan to deploy history: every version it names must be recorded.

A model that "remembers" a version (from training, from a similar incident, from an alert's text)
and proposes rolling back to it is the failure that turns one outage into two. `version_tokens`
finds every version-looking string in a plan (semver/CalVer, v-prefixed, git SHAs, image tags,
deliberately narrow so "TLS 1.2" or "p99" is not a version); `check_model_plan` rejects the plan
if any is not in deploy history, or if it "rolls back" to the version running now, and puts the
history plan (bot/triage/rollback.py) in its place. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.models import Deploy, RollbackPlan
from bot.triage.rollback import same_service, utc

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


def unknown_versions(texts: Iterable[str], history: Iterable[Deploy]) -> list[str]:
    """Version-looking tokens in `texts` that deploy history does not name (first seen first):
    the free-text twin of the plan check."""
    forms = _allowed_forms(history)
    found: list[str] = []
    for text in texts:
        for token in version_tokens(text):
            if not _known(token, forms) and token not in found:
                found.append(token)
    return found


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
    running = max(same_line, key=lambda d: utc(d.at), default=None)
    names_running = (
        target is not None
        and running is not None
        and _history_spelling(target, [running]) == running.version
    )
    if rejected or names_running:
        replacement = fallback_plan.target_version if fallback_plan.target_known else None
        shown = repr(replacement) if replacement else "'unknown'"
        if rejected:
            # The invented versions are not quoted: Slack must never show them (an injected
            # alert wants exactly that). They stay in `rejected_versions`, i.e. the audit record.
            note = (
                f"The model's rollback plan named {len(rejected)} version(s) not in the deploy "
                f"history (kept in the audit record); replaced with the plan built from deploy "
                f"history (target {shown})."
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
