"""Private conversations — DMs to the bot and Slack's assistant pane — in the fast stage.

The listeners (`bot/slack/assistant.py`) only classify such events into jobs; the work that
needs Redis or Slack happens here, in a durable job, so an ack never waits on it and a retried
event does it once:

- `assistant_thread_started` → the thread's suggested prompts, built from the open incidents;
- a question or follow-up → first the access rule (`AccessPolicy.may_ask_privately`: the people
  who may ask in a channel may ask privately — a DM is no way around `WIZARD_COMMAND_CHANNELS`).
  Someone else gets a clear refusal in their thread (posted once, under the job's `denied`
  slot) and an `access_denied` audit record (once per job). An admitted first question in the
  pane names the thread after itself. The answer is then queued like any other analysis:
  same budgets, same exactly-once reply, same audit record — with its source.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from bot.incidents.models import Incident
from bot.incidents.store import IncidentStore
from bot.pipeline.jobs import AssistantThreadJob, FollowupJob, QuestionJob
from bot.pipeline.recording import Recorder
from bot.render.limits import fit_blocks, notification, section
from bot.render.prompts import PROMPTS_TITLE, suggested_prompts, worst_first
from bot.slack.access import AccessPolicy, private_denial_text
from bot.slack.replies import Replier
from bot.text import clean_text

log = structlog.get_logger(__name__)

TITLE_CHARS = 80
DENIED_SLOT = "denied"
BRIEF_INCIDENTS = 10


def incidents_brief(incidents: Sequence[Incident], limit: int = BRIEF_INCIDENTS) -> str:
    """The open incidents, worst first, one line each, for a private question's prompt: what
    the pane's prompts name, so "what's the status of INC-7?" has something to answer from."""
    lines = []
    for i in worst_first(incidents)[:limit]:
        severity = i.assessed_severity or i.severity
        line = (
            f"{i.id} [{severity}, {i.state}] {i.title[:160]} — services: "
            f"{', '.join(i.services[:5]) or 'unknown'}; {len(i.firing)} firing, "
            f"{len(i.resolved)} resolved; opened {i.opened_at.isoformat(timespec='minutes')}"
        )
        if i.analysis_summary:
            line += f"; last analysis: {i.analysis_summary[:300]}"
        if i.advised:
            line += f"; advised: {'; '.join(a[:120] for a in i.advised[:3])}"
        lines.append(line)
    return "\n".join(lines)


def thread_title(question: str) -> str:
    """The pane's title for a thread: its first question, on one line, cut at a word."""
    line = " ".join(clean_text(question).split())
    if len(line) <= TITLE_CHARS:
        return line or "Question for the wizard"
    return line[: TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"


class PrivateConversations:
    """The fast-stage side of DMs and the assistant pane."""

    def __init__(
        self,
        *,
        policy: AccessPolicy,
        replier: Replier,
        recorder: Recorder,
        incidents: IncidentStore,
    ) -> None:
        self.policy = policy
        self.replier = replier
        self.recorder = recorder
        self.incidents = incidents

    async def thread_started(self, job: AssistantThreadJob) -> None:
        """Offer prompts about what is burning now (the open incidents), then general ones."""
        open_incidents = await self.incidents.open_incidents()
        prompts = suggested_prompts(open_incidents)
        shown = await self.replier.pane(
            job.channel, job.thread_ts, prompts=prompts, prompts_title=PROMPTS_TITLE
        )
        log.info(
            "assistant_thread_started",
            channel=job.channel,
            prompts=len(prompts),
            incidents=len(open_incidents),
            shown=shown,
        )

    async def admit(self, job: QuestionJob | FollowupJob) -> bool:
        """True when the asker may have this private conversation; otherwise refuse, once."""
        if await self.policy.may_ask_privately(job.user):
            if isinstance(job, QuestionJob) and job.source == "assistant" and job.thread_ts:
                await self.replier.pane(job.channel, job.thread_ts, title=thread_title(job.text))
            return True
        await self.recorder.once(
            "access_denied",
            job,
            reason="private_not_allowed",
            what=f"{job.source} {job.kind}",
            user=job.user,
            channel=job.channel,
            text=job.text[:300],
        )
        log.warning("access_denied", reason="private_not_allowed", user=job.user)
        text = private_denial_text(self.policy)
        await self.replier.ensure(
            job.id,
            DENIED_SLOT,
            channel=job.channel,
            thread_ts=job.thread_ts or job.ts,
            blocks=fit_blocks([section(text)]),
            text=notification(text),
        )
        return False
