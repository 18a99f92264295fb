"""The wizard's instructions, loaded from `prompts/*.md` so they are reviewed as text, not code.

The persona and answer template form the cached system prefix sent on every model call, so their
bytes must not change between calls: the files are read once per directory, line endings are
normalised and nothing time-dependent is added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.triage.paths import PROMPTS_DIR

PROMPT_FILES: dict[str, str] = {
    "persona": "persona.md",
    "answer_template": "answer_template.md",
    "followup": "followup.md",
    "question": "question.md",
}


@dataclass(frozen=True)
class Prompts:
    """The four prompt texts, exactly as read from disk (newlines normalised, ends stripped)."""

    persona: str
    answer_template: str
    followup: str
    question: str


def _read(path: Path) -> str:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"prompt file {path} is missing") from None
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ValueError(f"prompt file {path} is empty")
    return text + "\n"


@lru_cache(maxsize=8)
def _load(directory: Path) -> Prompts:
    return Prompts(**{field: _read(directory / name) for field, name in PROMPT_FILES.items()})


def load_prompts(directory: Path | None = None) -> Prompts:
    """Read the prompts from `directory` (default: the repository's `prompts/`), once."""
    return _load(Path(directory or PROMPTS_DIR).resolve())
