"""Build requests exactly as Slack sends them to the bot: signed Events API and slash commands.

Why: the bot's first line of defence is Bolt's signature check, so tests must send bodies signed
the way Slack signs them. The signature comes from slack_sdk's own `SignatureVerifier` (no
hand-rolled HMAC that could agree with a bug on both sides), and bodies keep Slack's shapes:
JSON envelopes for events, form encoding for slash commands.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier


def signed_headers(
    signing_secret: str, body: str | bytes, timestamp: int | None = None
) -> dict[str, str]:
    """`X-Slack-Request-Timestamp`, `X-Slack-Signature` and a Content-Type guessed from `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    text = body.decode() if isinstance(body, bytes) else body
    is_json = text.lstrip()[:1] in ("{", "[")
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/json" if is_json else "application/x-www-form-urlencoded",
    }


def event_body(
    event: dict[str, Any],
    *,
    event_id: str,
    team_id: str = "T0WIZ",
    api_app_id: str = "A0WIZ",
) -> str:
    """An Events API `event_callback` envelope around `event`, as JSON text."""
    now = int(time.time())
    envelope = {
        "token": "legacy-verification-token-unused",
        "team_id": team_id,
        "context_team_id": team_id,
        "api_app_id": api_app_id,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now,
        "event_context": f"4-{secrets.token_hex(8)}",
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "U0WIZARD",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event": event,
    }
    return json.dumps(envelope)


def slash_body(
    text: str,
    *,
    user_id: str,
    channel_id: str,
    response_url: str,
    team_id: str = "T0WIZ",
    command: str = "/wizard",
) -> str:
    """A slash-command invocation, form-encoded the way Slack posts it."""
    return urlencode(
        {
            "token": "legacy-verification-token-unused",
            "team_id": team_id,
            "team_domain": "wizard-sandbox",
            "channel_id": channel_id,
            "channel_name": channel_id.lower(),
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0WIZ",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{int(time.time())}.{secrets.token_hex(6)}",
        }
    )


def block_actions_body(
    *,
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    team_id: str = "T0WIZ",
    block_id: str = "incident",
) -> str:
    """A button click (`block_actions`), form-encoded with its JSON in `payload`, as Slack does."""
    now = time.time()
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "wizard-test"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0WIZ",
        "token": "legacy-verification-token-unused",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id},
        "trigger_id": f"{int(now)}.{secrets.randbelow(10**9)}",
        "channel": {"id": channel_id, "name": "alerts"},
        "message": {"type": "message", "ts": message_ts, "text": "summary"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": f"{now:.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})
