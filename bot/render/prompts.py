"""The suggested prompts of an assistant-pane thread: the open incidents first, then general ones.

Why these: someone who opens the wizard's pane during an incident most likely wants that
incident's status, so the three worst open incidents (severity the analysis acted on, then the
most recently active) each get a prompt naming them, and the rest of Slack's four slots are
general questions. Incident titles come from alerts — outside text, redacted at the door — so
they are said back through `echo` (mentions and links neutralised, mrkdwn escaped, cut short).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.door import echo
from bot.incidents.models import Incident
from bot.models import SEVERITY_RANK

MAX_PROMPTS = 4
"""What `assistant.threads.setSuggestedPrompts` accepts."""
MAX_INCIDENT_PROMPTS = 3
PROMPTS_TITLE = "Ask the wizard"
TITLE_CHARS = 60
GENERAL_PROMPTS: tuple[tuple[str, str], ...] = (
    ("What is frozen right now?", "What is frozen right now? Which changes may we still make?"),
    ("Which open incident first?", "Which open incident should I work on first, and why?"),
    ("Roll back a deploy safely", "How do I roll back a production deploy safely?"),
    ("Market-open checklist", "What should I check before the market opens?"),
)


def _shown_severity(incident: Incident) -> str:
    """The severity the card shows: what the analysis acted on, else the alerts'."""
    return incident.assessed_severity or incident.severity


def worst_first(incidents: Sequence[Incident]) -> list[Incident]:
    """Open incidents by severity, then the most recently active first."""
    live = [i for i in incidents if i.state != "resolved"]
    return sorted(
        live,
        key=lambda i: (SEVERITY_RANK.get(_shown_severity(i), 9), -i.updated_at.timestamp()),
    )


def suggested_prompts(incidents: Sequence[Incident]) -> list[dict[str, str]]:
    """Up to four `{"title", "message"}` prompts: the worst open incidents, then general ones."""
    prompts: list[dict[str, str]] = []
    for incident in worst_first(incidents)[:MAX_INCIDENT_PROMPTS]:
        name = echo(incident.title, 120)
        label = echo(f"{incident.id}: {incident.title}", TITLE_CHARS)
        prompts.append(
            {
                "title": f"Status of {label}",
                "message": f"What's the status of {echo(incident.id, 40)} ({name})? "
                "What should I do now?",
            }
        )
    for title, message in GENERAL_PROMPTS:
        if len(prompts) >= MAX_PROMPTS:
            break
        prompts.append({"title": title, "message": message})
    return prompts
