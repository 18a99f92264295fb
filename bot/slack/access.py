"""Who may use the wizard, where, and who may change state: one policy, read from settings.

Why: the bot is installed in a trading firm's workspace, and Slack apps can be installed in more
than one workspace (or an Enterprise Grid org) with the same signing secret. A valid signature
only proves Slack sent the request, not that it came from *our* workspace, so requests from other
teams are refused before any listener runs. Inside our workspace, `/wizard` and mentions can be
confined to a few channels, and state-changing commands (freeze, buttons — a later issue) must ask
`may_change_state` first. Alert auto-triage is not governed here: `WIZARD_ALERT_CHANNELS` alone
decides which channels' alert posts are triaged.

Every refusal is logged and written to the audit trail as an `access_denied` record, because
"who tried to use the bot from where" is exactly what a reviewer asks after an incident.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.log import AuditLog
from bot.settings import Settings

log = structlog.get_logger(__name__)

WORKSPACE_DENIED = "This workspace is not allowed to use the wizard."
GROUP_CACHE_TTL_S = 60.0
"""Group membership changes rarely; a minute bounds both API calls and how stale a removal is."""
GROUP_LOOKUP_TIMEOUT_S = 5.0


INVALID_ID = "\x00invalid"


def team_ids(body: Mapping[str, Any]) -> frozenset[str]:
    """Every team/enterprise id a request claims: envelope, interactive payload, authorizations.

    Slash commands carry `team_id` (and `enterprise_id` on Grid), Events API envelopes carry
    `team_id`, `enterprise_id` and `authorizations[]`, interactive payloads carry `team.id` and
    `enterprise.id`. All of them are collected so a request cannot pass on one id and hide another.
    """
    found: set[str] = set()

    def add(value: object) -> None:
        # A present id must be a string: `team_id: ["T_ALLOWED", "T_OTHER"]` counts as an id
        # no allow-list holds, so the request is refused, not waved through. ("" and null are
        # how Slack says "none", e.g. enterprise_id outside Enterprise Grid.)
        if isinstance(value, str):
            if value:
                found.add(value)
        elif value is not None:
            found.add(INVALID_ID)

    add(body.get("team_id"))
    add(body.get("enterprise_id"))
    for key in ("team", "enterprise"):
        nested = body.get(key)
        if isinstance(nested, Mapping):
            add(nested.get("id"))
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list):
        for auth in authorizations:
            if isinstance(auth, Mapping):
                add(auth.get("team_id"))
                add(auth.get("enterprise_id"))
    return frozenset(found)


class AccessPolicy:
    """The access rules, typed; commands call it instead of reading settings themselves."""

    def __init__(
        self,
        *,
        allowed_team_ids: frozenset[str] = frozenset(),
        command_channels: frozenset[str] = frozenset(),
        privileged_users: frozenset[str] = frozenset(),
        privileged_groups: frozenset[str] = frozenset(),
        client: AsyncWebClient | None = None,
        cache_ttl_s: float = GROUP_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed_team_ids = allowed_team_ids
        self.command_channels = command_channels
        self.privileged_users = privileged_users
        self.privileged_groups = privileged_groups
        self.client = client
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, client: AsyncWebClient | None) -> AccessPolicy:
        return cls(
            allowed_team_ids=settings.allowed_team_ids,
            command_channels=settings.command_channels,
            privileged_users=settings.privileged_users,
            privileged_groups=settings.privileged_groups,
            client=client,
        )

    def team_allowed(self, body: Mapping[str, Any]) -> bool:
        """True when no allow-list is set, or every id the request carries is on it.

        A request carrying no id at all is refused once a list is set (fail closed).
        """
        if not self.allowed_team_ids:
            return True
        ids = team_ids(body)
        return bool(ids) and ids <= self.allowed_team_ids

    def channel_allowed_for_commands(self, channel_id: str | None) -> bool:
        """Whether `/wizard` and new mentions are answered in `channel_id` (empty list: all)."""
        if not self.command_channels:
            return True
        return channel_id is not None and channel_id in self.command_channels

    async def may_change_incidents(self, user_id: str | None) -> bool:
        """Incident buttons and change freezes: the privileged lists when either is set;
        otherwise anyone who can reach the bot in the channel (Slack membership is the gate)."""
        if not (self.privileged_users or self.privileged_groups):
            return True
        return await self.may_change_state(user_id)

    async def may_change_state(
        self, user_id: str | None, user_groups: frozenset[str] | None = None
    ) -> bool:
        """Whether `user_id` may run a state-changing command.

        Listed users may; so may members of a listed user group. `user_groups` is what the caller
        already knows of the user's groups; when that does not settle it, membership of each
        listed group is read with `usergroups.users.list` (cached for `cache_ttl_s`). A failed
        lookup denies: nobody gains rights because Slack was unreachable.
        """
        if not user_id:
            return False
        if user_id in self.privileged_users:
            return True
        if user_groups and user_groups & self.privileged_groups:
            return True
        for group in sorted(self.privileged_groups):
            members = await self._group_members(group)
            if members is not None and user_id in members:
                return True
        return False

    async def may_ask_privately(self, user_id: str | None) -> bool:
        """Whether `user_id` may ask in a DM or the assistant pane: the same people who may ask
        in a channel. With no `WIZARD_COMMAND_CHANNELS` that is anyone in the workspace (the
        team gate already ran); otherwise members of one of those channels — a DM must not be
        a way around the channels the bot was confined to. A failed lookup denies."""
        if not user_id:
            return False
        if not self.command_channels:
            return True
        for channel in sorted(self.command_channels):
            members = await self._members_of(
                f"channel:{channel}", functools.partial(self._channel_members, channel)
            )
            if members is not None and user_id in members:
                return True
        return False

    async def _group_members(self, group: str) -> frozenset[str] | None:
        """Members of `group`, from the cache or the Web API; None when Slack would not say."""
        return await self._members_of(
            f"group:{group}", functools.partial(self._usergroup_users, group)
        )

    async def _members_of(
        self, key: str, lookup: Callable[[], Awaitable[frozenset[str]]]
    ) -> frozenset[str] | None:
        """Cached member ids of a user group or channel (`key`), or the result of `lookup`."""
        now = self._clock()
        cached = self._members.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if self.client is None:
            return None
        try:
            async with asyncio.timeout(GROUP_LOOKUP_TIMEOUT_S):
                members = await lookup()
        except (SlackApiError, TimeoutError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else repr(exc)
            log.warning("membership_lookup_failed", of=key, error=error)
            return None
        self._members[key] = (now + self.cache_ttl_s, members)
        return members

    async def _usergroup_users(self, group: str) -> frozenset[str]:
        assert self.client is not None
        response = await self.client.usergroups_users_list(usergroup=group)
        return _ids(response.get("users"))

    async def _channel_members(self, channel: str) -> frozenset[str]:
        """Every member of `channel` (slack-sdk follows the cursor from page to page)."""
        assert self.client is not None
        found: set[str] = set()
        async for page in await self.client.conversations_members(channel=channel, limit=1000):
            found |= _ids(page.get("members"))
        return frozenset(found)


def _ids(value: object) -> frozenset[str]:
    """The string ids in a Slack list field (anything else in it, or no list, is nothing)."""
    if not isinstance(value, list):
        return frozenset()
    return frozenset(u for u in value if isinstance(u, str))


async def record_denial(audit: AuditLog | None, reason: str, **fields: Any) -> None:
    """Log a refusal and append an `access_denied` audit record.

    An audit failure is logged, not raised: the request is refused either way, and a Redis hiccup
    must not turn a polite refusal into a 500 that makes Slack retry it.
    """
    log.warning("access_denied", reason=reason, **fields)
    if audit is None:
        return
    try:
        await audit.append("access_denied", reason=reason, **fields)
    except Exception:
        log.exception("access_denied_audit_failed", reason=reason)


def _describe(body: Mapping[str, Any]) -> dict[str, Any]:
    """Who, where and what of a request, for the denial record."""
    event = body.get("event")
    event = event if isinstance(event, Mapping) else {}
    user = body.get("user")
    channel = body.get("channel")
    if isinstance(body.get("command"), str):
        what = f"command {body['command']}"
    elif event:
        what = f"event {event.get('type')}"
    else:
        what = str(body.get("type") or "unknown")
    return {
        "what": what,
        "user": body.get("user_id")
        or event.get("user")
        or (user.get("id") if isinstance(user, Mapping) else None),
        "channel": body.get("channel_id")
        or event.get("channel")
        or (channel.get("id") if isinstance(channel, Mapping) else None),
        "team_ids": sorted(team_ids(body)),
    }


class TeamGate:
    """Bolt global middleware: requests from teams outside `WIZARD_ALLOWED_TEAM_IDS` stop here.

    It runs after Bolt's own signature check and before any listener. A refused slash command gets
    an ephemeral explanation; events and interactions get a bare ack, so Slack does not retry them
    and the other workspace learns nothing more.
    """

    def __init__(self, policy: AccessPolicy, audit: AuditLog | None) -> None:
        self.policy = policy
        self.audit = audit

    def register(self, app: AsyncApp) -> None:
        app.middleware(self.process)

    async def process(
        self, body: dict[str, Any], ack: AsyncAck, next_: Callable[[], Any]
    ) -> BoltResponse | None:
        if self.policy.team_allowed(body):
            await next_()
            return None
        await record_denial(self.audit, "team_not_allowed", **_describe(body))
        if isinstance(body.get("command"), str):
            return await ack(text=WORKSPACE_DENIED, response_type="ephemeral")
        return await ack()


def _command_channels(policy: AccessPolicy, shown: int) -> str:
    """`<#C1>, <#C2> and 3 more`: the channels the wizard answers in, as Slack links."""
    channels = sorted(policy.command_channels)
    where = ", ".join(f"<#{c}>" for c in channels[:shown])
    if len(channels) > shown:
        where += f" and {len(channels) - shown} more"
    return where


def channel_denial_text(policy: AccessPolicy, shown: int = 5) -> str:
    """The polite refusal for `/wizard` or a mention outside `WIZARD_COMMAND_CHANNELS`."""
    where = _command_channels(policy, shown)
    return (
        f"🧙 Sorry, I only answer `/wizard` and mentions in {where}. Please ask there, or ask "
        "an admin to add this channel to WIZARD_COMMAND_CHANNELS."
    )


def private_denial_text(policy: AccessPolicy, shown: int = 5) -> str:
    """The polite refusal for a DM or assistant-pane question from someone outside the
    channels the wizard answers in."""
    where = _command_channels(policy, shown)
    return (
        "🧙 Sorry, I can only answer you here if you are a member of "
        f"{where or 'a channel I answer in'}, where the on-call team asks me. Please ask there, "
        "or ask an admin to add you to one of those channels."
    )
