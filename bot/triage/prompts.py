"""The wizard's instructions, loaded from `prompts/*.md` so they are reviewed as text, not code.

The persona and answer template form the cached system prefix sent on every model call, so their
bytes must not change between calls: the files are read once per directory, line endings are
normalised and nothing time-dependent is added here.

The answer template's `{{five_parts}}` partial is built from `bot.answer.PARTS` (number, title,
fields) and one `parts/<key>.md` per part (what to put there), so the prompt names the parts in
the same words and order as the schema and the renderers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.answer import PARTS
from bot.triage.paths import PROMPTS_DIR

PROMPT_FILES: dict[str, str] = {
    "persona": "persona.md",
    "answer_template": "answer_template.md",
    "followup": "followup.md",
    "question": "question.md",
    "streamed": "streamed.md",
}


@dataclass(frozen=True)
class Prompts:
    """The prompt texts, exactly as read from disk (newlines normalised, ends stripped);
    `streamed` (the Markdown form of a streamed follow-up or question) has its `{{headings}}`
    filled from `bot.answer.PARTS`."""

    persona: str
    answer_template: str
    followup: str
    question: str
    streamed: str


def _read(path: Path) -> str:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"prompt file {path} is missing") from None
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ValueError(f"prompt file {path} is empty")
    return text + "\n"


FIVE_PARTS = "{{five_parts}}"
HEADINGS = "{{headings}}"


def five_parts(directory: Path) -> str:
    """The partial: "1. Immediate actions -> `immediate_actions`: <parts/immediate_actions.md>"."""
    lines = []
    for part in PARTS:
        fields = " and ".join(f"`{name}`" for name in part.fields)
        guidance = _read(directory / "parts" / f"{part.key}.md").strip()
        body = guidance.replace("\n", "\n   ")
        lines.append(f"{part.number}. {part.title} -> {fields}: {body}")
    return "\n".join(lines)


@lru_cache(maxsize=8)
def _load(directory: Path) -> Prompts:
    texts = {field: _read(directory / name) for field, name in PROMPT_FILES.items()}
    template = texts["answer_template"]
    if FIVE_PARTS not in template:
        raise ValueError(f"{directory / PROMPT_FILES['answer_template']} lacks {FIVE_PARTS}")
    texts["answer_template"] = template.replace(FIVE_PARTS, five_parts(directory))
    headings = "\n".join(f"  `## {part.title}`" for part in PARTS)
    texts["streamed"] = texts["streamed"].replace(HEADINGS, headings)
    return Prompts(**texts)


def load_prompts(directory: Path | None = None) -> Prompts:
    """Read the prompts from `directory` (default: the repository's `prompts/`), once."""
    return _load(Path(directory or PROMPTS_DIR).resolve())
