"""The units of durable work, one pydantic model per kind, as two discriminated unions.

Two stages, two streams (`bot/store/keys.py`):

- **fast jobs** (`FastJob`, stream `wizard:jobs`): one per Slack message, command, button click
  or webhook delivery. They parse, count alerts into incidents, post and update cards and route
  follow-ups — milliseconds of work that never waits on the model;
- **analyses** (`AnalysisJob`, stream `wizard:analyses`): every model call — an incident's
  triage or re-analysis, a thread follow-up, a `/wizard` question. A fast job enqueues them; the
  analysis stage runs as many side by side as the model's limits allow (`bot/pipeline/gate.py`).

A job's id is derived from what caused it (channel + ts, a slash command's trigger id, a webhook
body's hash; an analysis id from its fast job's id), so the same cause always makes the same job,
and everything posted for it is recorded under that id (`bot/store/ledger.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from bot.models import Alert

Source = Literal["channel", "dm", "assistant"]
"""Where a question was asked: a channel (`/wizard`, a mention, a thread reply), a direct
message to the bot, or Slack's assistant pane. DMs and the pane are private conversations:
`bot/pipeline/conversations.py` checks who may have one, and every answer's audit record names
its source."""


class JobBase(BaseModel):
    """What every job has: its id, the Slack event that caused it, when it was received."""

    id: str
    event_id: str | None = None
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


# --- fast jobs ----------------------------------------------------------------------------------
class AlertJob(JobBase):
    """A post in an alert channel that parsed as alerts; the post's thread is the reply spot."""

    kind: Literal["alert"] = "alert"
    channel: str
    ts: str
    message: dict[str, Any]
    thread_ts: str | None = None
    """The post this one belongs to: an edit's original post, a thread_broadcast's thread."""
    edited: bool = False
    """From an edit of the alert's post (`message_changed`): it updates the incident's state
    but never asks for a new analysis."""


class WebhookJob(JobBase):
    """An Alertmanager webhook delivery, already parsed and redacted at the door."""

    kind: Literal["webhook"] = "webhook"
    alerts: list[Alert] = Field(default_factory=list)


class FollowupJob(JobBase):
    """A human's reply (or mention) in a thread the wizard answers."""

    kind: Literal["followup"] = "followup"
    channel: str
    ts: str
    thread_ts: str
    user: str | None = None
    text: str = Field(min_length=1)
    source: Source = "channel"


class QuestionJob(JobBase):
    """`/wizard <question>`, a mention outside a known thread, or the first message of a DM
    or assistant-pane thread."""

    kind: Literal["question"] = "question"
    channel: str
    ts: str | None = None
    thread_ts: str | None = None
    user: str | None = None
    text: str = Field(min_length=1)
    response_url: str | None = None
    source: Source = "channel"


class AssistantThreadJob(JobBase):
    """Someone opened a thread in the assistant pane: offer prompts about the open incidents
    (`assistant_thread_started`). A job, not a listener's work, so the ack never waits on
    Redis reads and a Slack call, and a retried event sets the prompts once."""

    kind: Literal["assistant_thread"] = "assistant_thread"
    channel: str
    thread_ts: str
    user: str | None = None
    context_channel: str | None = None
    """The channel the user was looking at when they opened the pane."""


class ActionJob(JobBase):
    """A click on an incident card's button (`wizard_ack` …), applied once by a worker."""

    kind: Literal["action"] = "action"
    action: str
    incident_id: str = Field(min_length=1)
    user: str
    channel: str | None = None
    response_url: str | None = None


FastJob = Annotated[
    AlertJob | WebhookJob | FollowupJob | QuestionJob | ActionJob | AssistantThreadJob,
    Field(discriminator="kind"),
]


# --- analyses -----------------------------------------------------------------------------------
class AnalysisBase(JobBase):
    """An analysis remembers the fast job that asked for it (named in its audit record)."""

    source_job: str


class TriageAnalysis(AnalysisBase):
    """Ask the wizard about an incident: its first analysis, a re-analysis after a material
    change (`why`), or a human's "Re-run" (`requested_by`)."""

    kind: Literal["triage"] = "triage"
    incident_id: str
    alerts: list[Alert] = Field(default_factory=list)
    """The fast job's own alerts of the group (the store may not have them yet)."""
    why: str | None = None
    requested_by: str | None = None


class FollowupAnalysis(AnalysisBase):
    """Answer a follow-up with the thread's memory and, for an alert thread, its facts now."""

    kind: Literal["followup_answer"] = "followup_answer"
    channel: str
    thread_ts: str
    user: str | None = None
    text: str
    incident_id: str | None = None
    source: Source = "channel"


class QuestionAnalysis(AnalysisBase):
    """Answer a `/wizard` question (in its channel, or through `response_url`), or a DM's or
    the assistant pane's first question (in its thread)."""

    kind: Literal["question_answer"] = "question_answer"
    channel: str
    thread_ts: str | None = None
    user: str | None = None
    text: str
    response_url: str | None = None
    source: Source = "channel"


AnalysisJob = Annotated[
    TriageAnalysis | FollowupAnalysis | QuestionAnalysis, Field(discriminator="kind")
]

Job = JobBase
"""Any job (what the ledger, the recorder and the worker loop need of one)."""

FAST_JOBS: TypeAdapter[FastJob] = TypeAdapter(FastJob)
ANALYSIS_JOBS: TypeAdapter[AnalysisJob] = TypeAdapter(AnalysisJob)


def analysis_id(source_job: str, scope: str) -> str:
    """The analysis a fast job asks for about `scope` (an incident id, or "reply"): one per
    (job, scope), so a reclaimed fast job that enqueues it again is deduplicated."""
    return f"an:{scope}:{source_job}"
