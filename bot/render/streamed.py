"""What a streamed answer carries besides its text: the blocks under it and its notification.

The streamed Markdown is the answer (bot/triage/streaming.py); when it stops, Slack renders
these blocks at its bottom (chat.stopStream `blocks`): what the guard removed, the model, cost and
prompt hash, and the same buttons as every answer (incident actions, wrong runbook, feedback) —
so a streamed answer is judged and audited like the others.
"""

from __future__ import annotations

from bot.models import TriageResult
from bot.render.answer import AnswerFrame, buttons, footer_text
from bot.render.limits import Blocks, Message, context, fit_blocks, notification, section
from bot.render.mrkdwn import cut, escape_mrkdwn

MAX_NOTES = 3


def streamed_blocks(result: TriageResult, frame: AnswerFrame) -> Blocks:
    """Notes, footer and buttons under a streamed answer."""
    notes = [cut(escape_mrkdwn(n), 300) for n in result.notes[:MAX_NOTES]]
    blocks: Blocks = [context(*notes)] if notes else []
    blocks.append(context(footer_text(result)))
    return [*blocks, *buttons(frame)]


def streamed_notification(result: TriageResult, frame: AnswerFrame) -> str:
    """The push/screen-reader text of a streamed answer: its title and summary."""
    return notification(
        escape_mrkdwn(f"🧙 {frame.title}"), cut(escape_mrkdwn(result.answer.summary).strip(), 500)
    )


def question_header(user: str | None, question: str) -> Message:
    """The top-level message a streamed `/wizard` answer is threaded under (a stream must be a
    reply): who asked what, and where the answer is."""
    asked = cut(escape_mrkdwn(" ".join(question.split())), 500)
    text = f"❓ *Question from {escape_mrkdwn(user or 'someone')}:* {asked}"
    blocks = fit_blocks([section(text), context("🧙 The answer is written in this thread.")])
    return blocks, notification(text)
