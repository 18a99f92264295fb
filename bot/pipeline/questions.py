"""The analysis stage's conversation jobs: thread follow-ups and `/wizard` questions.

Both are streamed when a model answers (issue 14): "is thinking…" under the thread, then the
answer's first words as soon as the model writes them (bot/triage/streaming.py guards each chunk,
bot/slack/streaming.py streams it exactly once per job and slot), finished with its notes and
feedback buttons. Without a model (runbook fallback, spent budget) or when the model fails
midway, the answer is the usual two-message answer (first screen + plan), posted — or, after a
partial stream, put in place of the streamed message. A `/wizard` question asked outside a
thread gets a top-level header message, the answer streams in its thread (a streamed message
must be a reply).

Exactly once, as everywhere: the slots are the job's (`reply`, `plan:reply`, `question`); the
audit record is written once per job and kind, with the answer's final text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from slack_sdk.errors import SlackApiError

from bot.context.enrichment import Enricher
from bot.context.store import ContextStore, ThreadInfo, Turn
from bot.incidents.store import IncidentStore
from bot.models import TriageResult
from bot.pipeline.budget import ModelBudget
from bot.pipeline.conversations import incidents_brief
from bot.pipeline.jobs import FollowupAnalysis, QuestionAnalysis
from bot.pipeline.recording import Recorder, wizard_turn
from bot.render.answer import AnswerFrame, frame_for, render_answer
from bot.render.notes import render_placeholder
from bot.render.streamed import question_header, streamed_blocks, streamed_notification
from bot.slack.replies import FOLLOWUP_LOADING, Replier
from bot.slack.streaming import AnswerStream
from bot.triage.guard import clean_string
from bot.triage.streaming import Emit
from bot.triage.wizard import Wizard

QUEUED_NOTE = "queued: waiting for a model slot"
QUEUED_LOADING = ("Queued: waiting for a model slot…",)
_NO_CHANNEL = {"not_in_channel", "channel_not_found", "is_archived"}
Ask = Callable[[str | None, Emit | None], Awaitable[TriageResult]]


class Analyst(Protocol):
    """What these jobs need of the analysis stage (bot/pipeline/analysis.py `Analyst`)."""

    store: ContextStore
    incidents: IncidentStore
    wizard: Wizard
    replier: Replier
    recorder: Recorder
    budget: ModelBudget
    enricher: Enricher

    async def ask_model(
        self,
        ask: Callable[[str | None], Awaitable[TriageResult]],
        skip: str | None,
        on_wait: Callable[[], Awaitable[None]],
    ) -> TriageResult: ...


async def _answer(
    analyst: Analyst,
    job: FollowupAnalysis | QuestionAnalysis,
    ask: Ask,
    skip: str | None,
    *,
    thread_ts: str,
    frame: Callable[[TriageResult], AnswerFrame],
    on_wait: Callable[[], Awaitable[None]],
) -> TriageResult:
    """Ask (streaming when the model answers) and finish the answer in `thread_ts`."""
    streams: list[AnswerStream] = []

    async def asked(skip_model: str | None) -> TriageResult:
        if skip_model is not None:
            return await ask(skip_model, None)
        stream = AnswerStream(
            analyst.replier, job.id, "reply", channel=job.channel, thread_ts=thread_ts,
            user=job.user,
        )  # fmt: skip
        streams.append(await stream.open())
        return await ask(None, stream.append)

    result = await analyst.ask_model(asked, skip, on_wait)
    shown = frame(result)
    stream = streams[-1] if streams else None
    if stream is not None and result.text is not None:
        await stream.finish(streamed_blocks(result, shown), streamed_notification(result, shown))
        return result
    if stream is not None:
        await stream.close()  # a partial stream: the runbook answer takes its place
    await analyst.replier.post_answer(
        job.id, "reply", channel=job.channel, thread_ts=thread_ts,
        answer=render_answer(result, shown),
    )  # fmt: skip
    return result


async def _skip(analyst: Analyst, user: str | None) -> str | None:
    """Why the model must not be asked for this user now (budget), or None."""
    return await analyst.budget.for_user(user) if analyst.wizard.client is not None else None


async def answer_followup(analyst: Analyst, job: FollowupAnalysis) -> None:
    """A reply to the bot in a thread it knows: answered with the thread's alert and memory."""
    store = analyst.store
    info = await store.get_thread(job.channel, job.thread_ts)
    turns = await store.turns(job.channel, job.thread_ts)
    context = None
    facts: list[str] = []
    if info and info.alert:
        # The same firm facts as the triage (session state, freeze, owner), now, not then.
        enrichment = await analyst.enricher(info.alert)
        facts = enrichment.facts
        context = (await store.build_context(info.alert)).model_copy(
            update={"operator_facts": enrichment.facts, "guidance": enrichment.guidance}
        )

    async def placeholder(note: str) -> None:
        blocks, text = render_placeholder(None, note=note)
        await analyst.replier.ensure(
            job.id, "reply", channel=job.channel, thread_ts=job.thread_ts, blocks=blocks,
            text=text,
        )  # fmt: skip

    status = await analyst.replier.thinking(job.channel, job.thread_ts, FOLLOWUP_LOADING)
    if not status:
        # No thinking status in this workspace: a placeholder says we are on it (and the
        # answer then replaces it instead of streaming).
        await placeholder("thinking about your question")

    async def waiting() -> None:
        """Waiting for a model slot: said in the status (the answer can still stream), or
        in the placeholder where there is no status."""
        if status:
            await analyst.replier.thinking(job.channel, job.thread_ts, QUEUED_LOADING)
        else:
            await placeholder(QUEUED_NOTE)

    async def ask(skip_model: str | None, on_text: Emit | None) -> TriageResult:
        return await analyst.wizard.followup(
            job.text, turns, context, skip_model=skip_model, on_text=on_text
        )

    def frame(_: TriageResult) -> AnswerFrame:
        return frame_for(
            info.alert if info else None,
            "Follow-up",
            facts=facts,
            incident_id=job.incident_id,
            answer_ref=f"{job.id}:reply",
        )

    skip = await _skip(analyst, job.user)
    result = await _answer(
        analyst, job, ask, skip, thread_ts=job.thread_ts, frame=frame,
        on_wait=waiting,
    )  # fmt: skip
    await store.add_turn(
        job.channel, job.thread_ts, Turn(role="user", text=job.text, user=job.user)
    )
    await store.add_turn(job.channel, job.thread_ts, wizard_turn(result))
    await analyst.recorder.answer(
        "followup",
        job,
        result,
        job.channel,
        job.thread_ts,
        info.fingerprint if info else None,
        actor=job.user,
        question=job.text,
        incident_id=job.incident_id,
    )


async def answer_question(analyst: Analyst, job: QuestionAnalysis) -> None:
    """`/wizard <question>` or a mention outside a known thread: answer visibly."""
    heading = f"Question from {job.user or 'someone'}"
    skip = await _skip(analyst, job.user)
    streamed = analyst.wizard.client is not None and skip is None
    slot = "question" if streamed and not job.thread_ts else "reply"
    # A DM or the pane is where "what's the status of INC-7?" is asked: what is open now.
    brief = None
    if job.source != "channel":
        brief = incidents_brief(await analyst.incidents.open_incidents()) or None

    async def post(blocks: list[dict[str, object]], text: str) -> str | None:
        try:
            return await analyst.replier.ensure(
                job.id, slot, channel=job.channel, thread_ts=job.thread_ts, blocks=blocks,
                text=text,
            )  # fmt: skip
        except SlackApiError as exc:
            if exc.response.get("error") not in _NO_CHANNEL or not job.response_url:
                raise
            return None  # not a member there: answer through the response_url

    ts: str | None
    status = False
    if slot == "question":
        # The question is echoed under the bot's name: guarded like model text (an attacker's
        # `/wizard <!channel> https://evil.example` must not be re-posted by the bot).
        asked = clean_string(job.text, analyst.wizard.policy(None))
        ts = await post(*question_header(job.user, asked))
        if ts is not None:  # "is thinking…" under the header until the answer streams there
            status = await analyst.replier.thinking(job.channel, ts, FOLLOWUP_LOADING)
    elif (
        job.thread_ts
        and (streamed or job.source != "channel")
        and await analyst.replier.thinking(job.channel, job.thread_ts, FOLLOWUP_LOADING)
    ):
        # "is thinking…" in the thread (a mention's, a DM's, the assistant pane's), then the
        # answer (streamed there, or posted: it notifies); otherwise a placeholder.
        ts, status = job.thread_ts, True
    else:
        ts = await post(*render_placeholder(None, note="thinking about your question"))

    async def queued() -> None:
        if status and ts is not None:  # in the status: a placeholder would stop the stream
            await analyst.replier.thinking(job.channel, ts, QUEUED_LOADING)
        elif ts is not None and slot == "reply":
            await post(*render_placeholder(None, note=QUEUED_NOTE))

    def frame(_: TriageResult) -> AnswerFrame:
        return frame_for(None, heading, answer_ref=f"{job.id}:reply")

    if ts is None:  # through the response_url: no thread to stream into
        assert job.response_url

        async def plain(skip_model: str | None) -> TriageResult:
            return await analyst.wizard.question(job.text, skip_model=skip_model, incidents=brief)

        result = await analyst.ask_model(plain, skip, queued)
        rendered = render_answer(result, frame(result))
        for blocks, text in (rendered.first, rendered.plan):
            await analyst.replier.respond(job.response_url, blocks, text)
        anchor: str | None = None
    else:
        anchor = job.thread_ts or ts

        async def ask(skip_model: str | None, on_text: Emit | None) -> TriageResult:
            return await analyst.wizard.question(
                job.text, skip_model=skip_model, on_text=on_text, incidents=brief
            )

        result = await _answer(
            analyst, job, ask, skip, thread_ts=anchor, frame=frame, on_wait=queued
        )
        await analyst.store.set_thread(
            ThreadInfo(
                channel=job.channel,
                thread_ts=anchor,
                kind="question",
                job_id=job.id,
                source=job.source,
            )
        )
        await analyst.store.add_turn(
            job.channel, anchor, Turn(role="user", text=job.text, user=job.user)
        )
        await analyst.store.add_turn(job.channel, anchor, wizard_turn(result))
    await analyst.recorder.answer(
        "question", job, result, job.channel, anchor, None, actor=job.user, question=job.text
    )
