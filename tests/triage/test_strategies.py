"""Rollback strategies are data (runbooks/rollback/*.md): every one loads and renders, and the
templates and the code agree on the placeholders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Deploy
from bot.triage.rollback import normalise_strategy, plan_from_history
from bot.triage.strategies import (
    DEFAULT,
    FACTS,
    ROLLBACK_DIR,
    load_strategies,
    parse_strategy,
    placeholders,
)
from bot.yamldoc import DataFileError

START = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
STRATEGIES = load_strategies()


def _deploy(strategy: str, revision: str | None) -> list[Deploy]:
    before = Deploy(
        service="order-gateway",
        version="2026.11.27-1",
        environment="production",
        actor="ci-bot",
        at=START - timedelta(days=1),
        revision=revision,
    )
    suspect = Deploy(
        service="order-gateway",
        version="2026.11.28-3",
        previous_version="2026.11.27-1",
        environment="production",
        actor="ci-bot",
        at=START - timedelta(minutes=20),
        strategy=strategy,
    )
    return [before, suspect]


def test_the_strategies_the_bot_knows_are_all_there() -> None:
    assert set(STRATEGIES) == {
        "blue-green", "canary", "rolling", "kubernetes", "helm", "argocd", DEFAULT,
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("revision", ["7", None])
def test_every_strategy_renders_a_plan_with_every_placeholder_filled(
    name: str, revision: str | None
) -> None:
    history = _deploy(name, revision)
    plan = plan_from_history(
        history[1], "order-gateway", history=history, alert_start=START, namespace="trading"
    )
    assert plan.strategy == name
    texts = [*plan.steps, *plan.verification, *plan.preconditions, plan.blast_radius or ""]
    for text in texts:
        assert "{" not in text and "}" not in text, text
    template = STRATEGIES[name]
    assert template.blast_radius in (plan.blast_radius or "")
    assert any("2026.11.27-1" in step for step in plan.steps)  # the target, from history
    if template.undo_known and revision:
        assert any("7" in step for step in plan.steps)  # the recorded revision is used
    if template.undo_unknown and not revision:
        assert any("do not guess" in step for step in plan.steps)


def test_templates_and_code_agree_on_the_placeholders() -> None:
    used: set[str] = set()
    for strategy in STRATEGIES.values():
        for item in (*strategy.steps, *strategy.undo_known, *strategy.undo_unknown,
                     *strategy.checks, *strategy.preconditions):  # fmt: skip
            used |= placeholders(item) - {"undo"}
    assert used == FACTS  # nothing the code fills goes unused, nothing used goes unfilled


def test_every_alias_normalises_to_its_strategy() -> None:
    for strategy in STRATEGIES.values():
        for spelling in strategy.aliases:
            assert normalise_strategy(spelling.upper()) == strategy.name
    assert normalise_strategy("Blue Green") == "blue-green"
    assert normalise_strategy("RollingUpdate") == "rolling"
    assert normalise_strategy("spinnaker-magic") == "spinnaker-magic"  # kept, not known
    assert normalise_strategy(None) == "unknown"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("## Steps\n- Roll {service} to {versoin}.\n", "unknown placeholder {versoin}"),
        ("## Steps\n- Use revision {revision}.\n", "{revision} may only appear"),
        ("## Steps\n- {undo}\n", "needs both 'Undo with revision'"),
        ("## Stepz\n- a\n", "unknown section"),
    ],
)
def test_a_broken_template_is_refused_naming_its_file(
    tmp_path: Path, body: str, error: str
) -> None:
    path = tmp_path / "broken.md"
    path.write_text(f"---\nstrategy: broken\nblast_radius: all of it\n---\n{body}")
    with pytest.raises(DataFileError, match=str(path)) as raised:
        parse_strategy(path)
    assert error in str(raised.value)


def test_the_readme_documents_every_placeholder() -> None:
    readme = (ROLLBACK_DIR / "README.md").read_text()
    for fact in FACTS:
        assert "{" + fact + "}" in readme
