"""Change freezes: the scheduled calendar (`freezes.yaml`), manual freezes in Redis
(`/wizard freeze on|off|status`), and what a freeze changes in the advice."""

from bot.freeze.command import (
    USAGE,
    FreezeCommand,
    FreezeCommandError,
    parse_freeze_command,
    status_text,
)
from bot.freeze.guidance import DeployInFreeze, deploys_during, freeze_guidance
from bot.freeze.store import FreezeChange, FreezeStore
from bot.freeze.windows import FreezeCalendar, FreezeScope, FreezeWindow

__all__ = [
    "USAGE",
    "DeployInFreeze",
    "FreezeCalendar",
    "FreezeChange",
    "FreezeCommand",
    "FreezeCommandError",
    "FreezeScope",
    "FreezeStore",
    "FreezeWindow",
    "deploys_during",
    "freeze_guidance",
    "parse_freeze_command",
    "status_text",
]
