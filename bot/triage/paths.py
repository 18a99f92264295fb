"""Where the prompt and runbook files live, resolved once, independent of the working directory.

Prompts and runbooks are data kept at the repository root (`prompts/`, `runbooks/`) so that
reviewers can change them without touching code. In a checkout or an editable install they sit
next to the `bot` package. A non-editable install copies only the package into site-packages, so
a few conventional locations are tried as well; when none exists the repository path is returned
and the caller applies its override (`WIZARD_PROMPTS_DIR` / `WIZARD_RUNBOOKS_DIR`) instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The `bot` package directory."""

REPO_DIR = PACKAGE_DIR.parent
"""The repository root in a checkout or editable install."""

DATA_NAME = "infrastructure-wizard"


def candidates(name: str) -> tuple[Path, ...]:
    """Places `name` (`prompts` or `runbooks`) is looked for, most specific first."""
    return (
        REPO_DIR / name,
        PACKAGE_DIR / name,
        Path(sys.prefix) / "share" / DATA_NAME / name,
        Path.cwd() / name,
    )


def data_dir(name: str) -> Path:
    """The first existing candidate directory for `name`, else the repository location."""
    for path in candidates(name):
        if path.is_dir():
            return path
    return REPO_DIR / name


PROMPTS_DIR: Path = data_dir("prompts")
RUNBOOKS_DIR: Path = data_dir("runbooks")

__all__ = ["PACKAGE_DIR", "PROMPTS_DIR", "REPO_DIR", "RUNBOOKS_DIR", "candidates", "data_dir"]
