"""Rollback strategies as data: `runbooks/rollback/<strategy>.md`, rendered with a deploy's facts.

The steps, checks, preconditions and blast radius of each deploy strategy (blue-green, canary,
rolling, Kubernetes, Helm, Argo CD, and a default) are prose an SRE team reviews and adapts, so
they live in Markdown next to the runbooks, not in if/elif branches. `bot/triage/rollback.py`
still decides which deploy is suspect and which version is the target, from deploy history
alone; a template only words the plan, with placeholders the code fills (`FACTS`). Templates are
validated when loaded: an unknown placeholder, `{revision}` outside the undo-with-revision
section or a missing `{undo}` marker is an error naming the file, never a broken plan at 09:30.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.triage.paths import RUNBOOKS_DIR
from bot.yamldoc import DataFileError

ROLLBACK_DIR = RUNBOOKS_DIR / "rollback"
DEFAULT = "default"
FACTS = frozenset({"service", "namespace", "current", "target", "revision"})
"""Every placeholder a template may use; the code fills exactly these (tests hold both to it)."""
UNDO = "{undo}"
_SECTIONS = {
    "steps": "steps",
    "undo with revision": "undo_known",
    "undo without revision": "undo_unknown",
    "checks": "checks",
    "preconditions": "preconditions",
}


@dataclass(frozen=True)
class Strategy:
    """One deploy strategy's rollback wording, as written in its file."""

    name: str
    aliases: tuple[str, ...]
    blast_radius: str
    steps: tuple[str, ...]
    undo_known: tuple[str, ...] = ()
    undo_unknown: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    preconditions: tuple[str, ...] = ()
    source: Path | None = None

    def render_steps(self, facts: Mapping[str, str | None]) -> list[str]:
        """The steps, with the undo steps for a known (or unknown) revision at `{undo}`."""
        undo = self.undo_known if facts.get("revision") else self.undo_unknown
        out: list[str] = []
        for item in self.steps:
            out += [render(u, facts) for u in undo] if item == UNDO else [render(item, facts)]
        return out

    def render_checks(self, facts: Mapping[str, str | None]) -> list[str]:
        return [render(item, facts) for item in self.checks]

    def render_preconditions(self, facts: Mapping[str, str | None]) -> list[str]:
        return [render(item, facts) for item in self.preconditions]


def placeholders(text: str) -> set[str]:
    """The `{name}` fields in `text` (`{{` is a literal brace)."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def render(template: str, facts: Mapping[str, str | None]) -> str:
    return template.format_map({k: v if v is not None else "" for k, v in facts.items()})


def _sections(body: str, path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in body.splitlines():
        line = raw.rstrip()
        if line.startswith("## "):
            title = line[3:].strip().lower()
            if title not in _SECTIONS:
                known = ", ".join(f"'## {t.capitalize()}'" for t in _SECTIONS)
                raise DataFileError(f"{path}: unknown section {line!r} (known: {known})")
            current = sections.setdefault(_SECTIONS[title], [])
        elif line.startswith("- ") and current is not None:
            current.append(line[2:].strip())
        elif line.startswith("  ") and current:  # a wrapped item continues
            current[-1] += " " + line.strip()
    return sections


def _validate(strategy: Strategy, path: Path) -> None:
    for section in ("steps", "undo_known", "undo_unknown", "checks", "preconditions"):
        for item in getattr(strategy, section):
            if section == "steps" and item == UNDO:
                continue
            unknown = placeholders(item) - FACTS
            if unknown:
                names = ", ".join("{" + n + "}" for n in sorted(unknown))
                raise DataFileError(
                    f"{path}: unknown placeholder {names} (known: {', '.join(sorted(FACTS))})"
                )
            if "revision" in placeholders(item) and section != "undo_known":
                raise DataFileError(f"{path}: {{revision}} may only appear in 'Undo with revision'")
    has_undo = UNDO in strategy.steps
    if has_undo != bool(strategy.undo_known and strategy.undo_unknown):
        raise DataFileError(
            f"{path}: a {UNDO} step needs both 'Undo with revision' and 'Undo without revision'"
        )
    if not strategy.steps:
        raise DataFileError(f"{path}: no '## Steps'")


def parse_strategy(path: Path) -> Strategy:
    """Read one strategy file; errors name the file."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if match is None:
        raise DataFileError(f"{path}: needs YAML front matter between --- lines")
    try:
        meta = yaml.safe_load(match[1]) or {}
    except yaml.YAMLError as exc:
        raise DataFileError(f"{path}: invalid front matter: {exc}") from None
    if not isinstance(meta, dict) or not meta.get("strategy") or not meta.get("blast_radius"):
        raise DataFileError(f"{path}: front matter needs `strategy` and `blast_radius`")
    sections = _sections(match[2], path)
    strategy = Strategy(
        name=str(meta["strategy"]),
        aliases=tuple(str(a).lower() for a in meta.get("aliases") or ()),
        blast_radius=str(meta["blast_radius"]),
        steps=tuple(sections.get("steps", ())),
        undo_known=tuple(sections.get("undo_known", ())),
        undo_unknown=tuple(sections.get("undo_unknown", ())),
        checks=tuple(sections.get("checks", ())),
        preconditions=tuple(sections.get("preconditions", ())),
        source=path,
    )
    _validate(strategy, path)
    return strategy


@functools.cache
def load_strategies(directory: Path = ROLLBACK_DIR) -> dict[str, Strategy]:
    """Every `*.md` strategy in `directory` (README.md excepted), by name; `default` required."""
    files = sorted(p for p in Path(directory).glob("*.md") if p.name.lower() != "readme.md")
    strategies = {s.name: s for s in map(parse_strategy, files)}
    if DEFAULT not in strategies:
        raise DataFileError(f"{directory}: no {DEFAULT}.md (the plan for unknown strategies)")
    return strategies


def spellings(strategies: Mapping[str, Strategy]) -> dict[str, str]:
    """Every accepted spelling (name or alias, lower case) → strategy name."""
    out: dict[str, str] = {}
    for strategy in strategies.values():
        if strategy.name != DEFAULT:
            out[strategy.name] = strategy.name
            out.update(dict.fromkeys(strategy.aliases, strategy.name))
    return out
