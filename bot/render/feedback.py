"""Feedback on every AI answer: helpful / not helpful (Slack's feedback buttons) and "wrong
runbook" (a plain button, since feedback buttons hold exactly two choices).

The value of each button names the verdict and the answer it is about (`<verdict>|<answer ref>`,
the ref being the job and slot that posted the answer), so the click can be recorded against
the audited answer without any state kept here. `parse_feedback` is the one reader of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.render.limits import Block

ACTION_FEEDBACK = "wizard_feedback"
ACTION_WRONG_RUNBOOK = "wizard_feedback_runbook"
FEEDBACK_ACTIONS = (ACTION_FEEDBACK, ACTION_WRONG_RUNBOOK)
Verdict = Literal["helpful", "not_helpful", "wrong_runbook"]
VERDICTS: tuple[Verdict, ...] = ("helpful", "not_helpful", "wrong_runbook")
MAX_REF = 400


@dataclass(frozen=True)
class Feedback:
    verdict: Verdict
    answer_ref: str


def _value(verdict: Verdict, answer_ref: str) -> str:
    return f"{verdict}|{answer_ref[:MAX_REF]}"


def feedback_block(answer_ref: str) -> Block:
    """👍 / 👎 as Slack's feedback_buttons element, in a context_actions block."""
    return {
        "type": "context_actions",
        "block_id": "wizard_feedback",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": ACTION_FEEDBACK,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "👍 Helpful"},
                    "accessibility_label": "This answer was helpful",
                    "value": _value("helpful", answer_ref),
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "👎 Not helpful"},
                    "accessibility_label": "This answer was not helpful",
                    "value": _value("not_helpful", answer_ref),
                },
            }
        ],
    }


def wrong_runbook_button(answer_ref: str) -> Block:
    return {
        "type": "button",
        "action_id": ACTION_WRONG_RUNBOOK,
        "text": {"type": "plain_text", "text": "📕 Wrong runbook", "emoji": True},
        "value": _value("wrong_runbook", answer_ref),
    }


def parse_feedback(value: object) -> Feedback | None:
    """The verdict and answer ref of a clicked button's value; None for anything else."""
    if not isinstance(value, str) or "|" not in value:
        return None
    verdict, _, ref = value.partition("|")
    if verdict not in VERDICTS or not ref.strip() or len(ref) > MAX_REF:
        return None
    return Feedback(verdict, ref)
