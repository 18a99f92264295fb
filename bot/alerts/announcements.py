"""Deploy announcements in alert channels: recognised, so they are not triaged as alerts.

CD tools post "deployed" messages into the same channels alerts go to. Triaging one as an alert
opens an incident for a success. Only exact, known announcement sentences count (an alert such as
"Deployment order-gateway has 0 available replicas" must stay an alert):

- Argo CD notifications' catalog template `app-deployed`: `Application <app> is now running new
  version of deployments manifests.` with the app as attachment title and `Sync Status`,
  `Repository`, `Revision` fields; and `app-sync-succeeded`: `Application <app> has been
  successfully synced …`.

When the announcement names the service and a version (Argo CD's revision) it is returned as a
`Deploy`, so the caller can offer it to the deploy history; parsing itself stays pure.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from bot.alerts.common import clean, fields, message_text, plain, timestamp
from bot.models import Deploy

_ARGO = re.compile(
    r"Application (?P<app>[\w.\-]{1,200}) (?:is now running new version of deployments manifests"
    r"|has been successfully synced)"
)


class Announcement(BaseModel):
    """A recognised deploy announcement; `deploy` when it carried service and version."""

    tool: str
    service: str
    deploy: Deploy | None = None


def announcement(message: dict[str, Any]) -> Announcement | None:
    """The deploy announcement in a Slack message, or None when it is not one."""
    text = plain(message_text(message))
    match = _ARGO.search(text[:5000])
    if not match:
        return None
    app = clean(match.group("app"), 200)
    revision = clean(fields(message).get("Revision"), 200)
    at = timestamp(message.get("ts")) or datetime.now(UTC)
    deploy = (
        Deploy(service=app, version=revision[:40], actor="argocd", at=at, revision=revision[:40])
        if revision
        else None
    )
    return Announcement(tool="argocd", service=app, deploy=deploy)
