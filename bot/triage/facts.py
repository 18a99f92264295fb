"""The trusted facts block: typed values only, laid out by `prompts/trusted_facts.md`.

The model is told to believe what sits inside `<trusted_facts>`, so nothing attacker-shaped may
get in: a deploy version with a newline and `</trusted_facts>`, an actor named like an
instruction, a freeze reason typed by anyone. Every value here is either computed by the bot
(times, counts, the matched runbook) or passes a strict check: versions match `VERSION` (one
line, at most 64 characters, no spaces or markup), names match `NAME`; anything else is shown as
`[withheld]`. A manual freeze's reason reaches the block only as a quoted, escaped string
labelled untrusted (`bot/freeze/guidance.py`). The template holds the layout; `FACT_KEYS` is
what the code fills, and a test holds the two to each other.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from bot.models import Context, Deploy
from bot.triage.paths import PROMPTS_DIR
from bot.triage.versions import allowed_versions

TEMPLATE_FILE = "trusted_facts.md"
FACT_KEYS = (
    "now_utc",
    "matched_runbook",
    "alert_history",
    "deploy_history",
    "allowed_rollback_targets",
    "suspect_deploy",
    "history_rollback_target",
    "incident",
    "operator_facts",
    "guidance",
)
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:@-]{0,63}$")
"""A deploy version: semver, CalVer, a git SHA, an image tag (`name:1.2.3`), one token."""
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@/-]{0,99}$")
WITHHELD = "[withheld]"


def safe_version(value: str | None) -> str | None:
    """The version when it is one strict token, else None (never in the trusted block)."""
    return value if value is not None and VERSION.match(value) else None


def safe_name(value: str | None, default: str = "unknown") -> str:
    if not value:
        return default
    return value if NAME.match(value) else WITHHELD


def trusted_versions(deploys: list[Deploy]) -> set[str]:
    """History versions that may be named as rollback targets: the strict ones only."""
    return {v for v in allowed_versions(deploys) if safe_version(v)}


@lru_cache(maxsize=8)
def load_template(directory: Path | None = None) -> str:
    """The layout, from `directory` when it has one (WIZARD_PROMPTS_DIR), else the repo's."""
    for folder in (directory, PROMPTS_DIR):
        if folder is not None and (folder / TEMPLATE_FILE).is_file():
            return (folder / TEMPLATE_FILE).read_text(encoding="utf-8").strip()
    raise FileNotFoundError(f"{PROMPTS_DIR / TEMPLATE_FILE} is missing")


def template_keys(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _deploy_line(d: Deploy) -> str:
    previous = safe_version(d.previous_version) or ("?" if not d.previous_version else WITHHELD)
    return (
        f"- {d.at.isoformat()} {safe_name(d.service)} {previous} -> "
        f"{safe_version(d.version) or WITHHELD} env={safe_name(d.environment)} "
        f"by={safe_name(d.actor)} strategy={safe_name(d.strategy)}"
    )


def fact_values(context: Context, suspect: Deploy | None, target: str | None) -> dict[str, str]:
    """Every key of `FACT_KEYS`, rendered; an empty value drops its line."""
    facts = dict.fromkeys(FACT_KEYS, "")
    facts["now_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    facts["matched_runbook"] = safe_name(context.runbook.id if context.runbook else None, "none")
    if context.record:
        facts["alert_history"] = (
            f"alert_history: first_seen={context.record.first_seen.isoformat()} "
            f"occurrences={context.record.occurrences}"
        )
    if context.deploys:
        facts["deploy_history"] = "\n".join(
            ["deploy_history for the alert's service (newest first):"]
            + [_deploy_line(d) for d in context.deploys]
        )
        allowed = sorted(trusted_versions(list(context.deploys))) or ["none"]
        facts["allowed_rollback_targets"] = "allowed_rollback_targets: " + ", ".join(allowed)
        facts["suspect_deploy"] = (
            f"suspect_deploy (newest at or before the alert start): "
            f"{safe_version(suspect.version) or WITHHELD} at {suspect.at.isoformat()}"
            if suspect
            else "suspect_deploy: none at or before the alert start (later deploys are not "
            "the cause)"
        )
        facts["history_rollback_target"] = (
            f"history_rollback_target: {safe_version(target) or 'UNKNOWN'}; the rollback plan "
            "(target, steps, verification) may name only versions listed above"
        )
    else:
        facts["deploy_history"] = (
            "deploy_history: none recorded for the alert's service in the window; the rollback "
            "target version is UNKNOWN"
        )
    if context.incident_facts:
        facts["incident"] = f"incident: {_one_line(context.incident_facts)}"
    facts["operator_facts"] = "\n".join(_one_line(f) for f in context.operator_facts)
    if context.guidance:
        facts["guidance"] = "\n".join(
            ["guidance (from the firm's calendars and catalog; follow it):"]
            + [f"- {_one_line(g)}" for g in context.guidance]
        )
    return facts


def _one_line(text: str) -> str:
    """Facts are one line each and can never close or open the trusted block."""
    flat = " ".join(str(text).split())
    return flat.replace("<", "‹").replace(">", "›")


def render(template: str, facts: Mapping[str, str]) -> str:
    """The block with every placeholder filled; lines left empty are dropped."""
    text = template.format_map(dict(facts))
    return "\n".join(line for line in text.splitlines() if line.strip())
