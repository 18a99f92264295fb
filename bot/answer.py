"""The wizard's answer, defined once: its five parts and the extra fields that go with them.

Every answer — the model's, the runbook fallback's, a follow-up's — has the same five parts:
Immediate actions, Implementation plan, Monitoring strategy, Risk mitigation (incl. rollback),
Performance benchmarks / success criteria. This module is the one place that says so: the
structured-output schema (`bot.models.TriageAnswer` field descriptions), the prompt (the answer
template's `{{five_parts}}` partial, one `prompts/parts/<key>.md` per part) and both renderers
(Block Kit and Markdown) iterate `PARTS`, so a part renamed or added here changes all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """One of the five parts: its number and title as people read them, the answer fields it
    is made of, and whether its items are ordered steps."""

    number: int
    key: str
    title: str
    fields: tuple[str, ...]
    numbered: bool
    description: str
    """The schema description of the part's list field (what the model is asked for)."""


PARTS: tuple[Part, ...] = (
    Part(1, "immediate_actions", "Immediate actions", ("immediate_actions",), True,
         "Do these now, in order."),
    Part(2, "implementation_plan", "Implementation plan", ("implementation_plan",), True,
         "The fix, step by step."),
    Part(3, "monitoring_strategy", "Monitoring strategy", ("monitoring_strategy",), False,
         "What to watch, where, and thresholds."),
    Part(4, "risk_mitigation", "Risk mitigation (incl. rollback)", ("risk_mitigation", "rollback"),
         False, "Risks of the actions and how to contain them."),
    Part(5, "success_criteria", "Performance benchmarks / success criteria",
         ("success_criteria",), False,
         "Performance benchmarks / success criteria that say the incident is over."),
)  # fmt: skip


@dataclass(frozen=True)
class Extra:
    """A list field shown after the five parts when it has items."""

    key: str
    title: str
    description: str


EXTRAS: tuple[Extra, ...] = (
    Extra("clarifying_questions", "Clarifying questions",
          "What you need to know instead of guessing."),
    Extra("evidence", "Evidence", "Facts from the context that support this answer."),
    Extra("compliance_notes", "Compliance notes",
          "Change-control / record-keeping points (SOX, MiFID II, SEC 17a-4)."),
)  # fmt: skip

FIRST_SCREEN_ACTIONS = 3
"""How many immediate actions the first screen shows; the rest are in the full plan."""


def part(key: str) -> Part:
    """The part called `key` (KeyError for a name that is not one of the five)."""
    for candidate in PARTS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)


def extra(key: str) -> Extra:
    for candidate in EXTRAS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)
