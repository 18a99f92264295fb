"""The README stays true: every setting in its Settings table exactly once, every CLI command
and subcommand in its Commands table, and the commands an operator copies really exist."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from bot.cli import build_parser
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _first_cells(section: str) -> list[str]:
    return [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]


def test_every_setting_is_in_the_settings_table_exactly_once() -> None:
    names = Counter(
        name
        for cell in _first_cells(_section("Settings"))
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)
    )
    aliases = {field.alias or name for name, field in Settings.model_fields.items()}
    assert sorted(a for a in aliases if names[a] == 0) == [], "settings missing from the README"
    assert sorted(n for n, count in names.items() if count > 1) == [], "listed twice"
    assert sorted(set(names) - aliases) == [], "README rows for settings the code does not have"


def _commands(parser: argparse.ArgumentParser, prefix: str = "wizard") -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found += _commands(sub, f"{prefix} {name}")
    return found


def test_every_cli_command_and_subcommand_is_in_the_commands_table() -> None:
    cells = " ".join(_first_cells(_section("Commands")))
    for command in _commands(build_parser()):
        assert f"`{command}" in cells, f"{command} is not in the README's Commands table"
    for flag in ("--role", "--host", "--version"):
        assert flag in _section("Commands"), flag


def test_the_readme_test_commands_are_there_and_honest() -> None:
    assert './wizard test -m "not faults"' in README
    assert "./wizard demo" in README and "./wizard test" in README
    assert "installs the project from PyPI" not in README  # ./wizard installs the locks
    assert "may_change_state" not in README  # the code's name is may_change_incidents
