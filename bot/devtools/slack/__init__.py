"""The local Slack (`SlackSandbox`): see `server.py`."""

from bot.devtools.slack.server import RecordedCall, SlackSandbox
from bot.devtools.slack.validation import BlockKitError, check_blocks, check_message
from bot.devtools.slack.web_api import SlackApiShapeError

__all__ = [
    "BlockKitError",
    "RecordedCall",
    "SlackApiShapeError",
    "SlackSandbox",
    "check_blocks",
    "check_message",
]
