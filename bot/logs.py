"""structlog set-up: JSON lines on stderr, every string redacted, event ids bound per job.

Logs leave the process (to a log shipper, to whoever greps them during an incident), so they pass
the same redaction function as Slack, the LLM and the audit trail. Standard-library loggers
(slack_bolt, slack_sdk, aiohttp) are routed through the same pipeline.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from bot.redact import redact_obj

_OURS = ("timestamp", "level")
"""Keys the processors before `_redact` wrote (an ISO time, a level name): nothing to mask,
and a unique timestamp per line would cost every line a full redaction pass."""


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    ours = {k: event_dict.pop(k) for k in _OURS if k in event_dict}
    redacted: dict[str, Any] = redact_obj(event_dict)
    redacted.update(ours)
    return redacted


def _redact_thorough(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Third-party loggers (Bolt, slack-sdk, anthropic at DEBUG) print raw request bodies, so
    their records also get the detect-secrets plugins; our own events carry no raw payloads."""
    redacted: Mapping[str, Any] = redact_obj(event_dict, thorough=True)
    return redacted


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Configure structlog and stdlib logging once per process."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared[:-1], _redact_thorough],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
