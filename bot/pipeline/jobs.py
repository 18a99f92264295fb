"""The unit of durable work: one `Job` per Slack message, command, or webhook delivery.

A job's id is derived from what caused it (channel + ts, a slash command's trigger id, a webhook
body's hash), so the same cause always makes the same job, and everything a worker posts for it is
recorded under that id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.models import Alert

JobKind = Literal["alert", "webhook", "followup", "question", "action"]


class Job(BaseModel):
    """Everything a worker needs, so it never has to go back to the listener."""

    id: str
    kind: JobKind
    channel: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    user: str | None = None
    text: str | None = None
    message: dict[str, Any] | None = None
    alerts: list[Alert] = Field(default_factory=list)
    response_url: str | None = None
    action: str | None = None
    """For `action` jobs: the button's action id (`wizard_ack` …)."""
    incident_id: str | None = None
    event_id: str | None = None
    edited: bool = False
    """An `alert` job from an edit of the alert's post (`message_changed`): it updates the
    incident's state but never asks for a new analysis."""
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
