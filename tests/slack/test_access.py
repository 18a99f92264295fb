"""Access control end to end: foreign teams, command channels and who may change state.

Requests are signed exactly as Slack signs them and go through the real aiohttp server, Bolt and
the listeners; Redis is real and Slack is the local sandbox, so "nothing queued" and "audited"
are read from the same stream and trail the bot uses.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.devtools.slack import SlackSandbox
from bot.settings import ConfigError, load_settings
from bot.slack.access import WORKSPACE_DENIED, AccessPolicy, team_ids
from bot.slack.client import make_web_client
from bot.store import keys
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.signing import event_body, slash_body
from tests.harness import ALERT_CHANNEL, ASK_CHANNEL, Bot, settings_for, start_bot, stop_bot
from tests.test_end_to_end import alert_message

OUR_TEAM = "T0WIZ"
FOREIGN_TEAM = "T0EVIL"
OTHER_CHANNEL = "C0RANDOM"


async def _bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, tmp_path, **extra: Any
) -> Bot:
    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm, **extra
    )
    return await start_bot(settings, sandbox)


@pytest.fixture
async def team_bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> AsyncIterator[Bot]:
    bot = await _bot(sandbox, llm, redis_server, tmp_path, WIZARD_ALLOWED_TEAM_IDS=OUR_TEAM)
    yield bot
    await stop_bot(bot)


@pytest.fixture
async def channel_bot(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> AsyncIterator[Bot]:
    bot = await _bot(sandbox, llm, redis_server, tmp_path, WIZARD_COMMAND_CHANNELS=ASK_CHANNEL)
    yield bot
    await stop_bot(bot)


async def slash(
    bot: Bot,
    text: str,
    *,
    channel: str = ASK_CHANNEL,
    team: str = OUR_TEAM,
    user: str = "U0ONCALL",
) -> dict[str, Any]:
    """`/wizard <text>` as Slack posts it, from any team and channel; returns the ack body."""
    body = slash_body(
        text,
        user_id=user,
        channel_id=channel,
        team_id=team,
        response_url=bot.sandbox.response_url(f"r{time.time_ns()}"),
    )
    status, reply = await bot.post_signed(body, "application/x-www-form-urlencoded")
    assert status == 200, reply
    return json.loads(reply) if reply else {}


async def send_event(bot: Bot, event: dict[str, Any], *, team: str = OUR_TEAM) -> tuple[int, str]:
    body = event_body(event, event_id=f"Ev{time.time_ns()}", team_id=team)
    return await bot.post_signed(body)


async def queued(bot: Bot) -> int:
    return int(await bot.runtime.redis.xlen(keys.JOBS_STREAM))


async def denials(bot: Bot) -> list[dict[str, Any]]:
    return [r for r in await bot.runtime.audit.records() if r["kind"] == "access_denied"]


# --- foreign teams --------------------------------------------------------------------------------


async def test_foreign_team_event_command_and_action_refused_and_audited(team_bot: Bot) -> None:
    bot = team_bot
    alert = bot.sandbox.inject_message(ALERT_CHANNEL, alert_message())
    status, text = await send_event(bot, alert, team=FOREIGN_TEAM)
    assert status == 200 and text == ""

    reply = await slash(bot, "status", team=FOREIGN_TEAM)
    assert reply == {"text": WORKSPACE_DENIED, "response_type": "ephemeral"}
    question = await slash(bot, "how do we fail over the FIX gateway?", team=FOREIGN_TEAM)
    assert question["text"] == WORKSPACE_DENIED

    action = {
        "type": "block_actions",
        "team": {"id": FOREIGN_TEAM, "domain": "evil"},
        "user": {"id": "U0MALLORY", "team_id": FOREIGN_TEAM},
        "channel": {"id": ALERT_CHANNEL},
        "actions": [{"action_id": "freeze", "value": "x"}],
    }
    status, _ = await bot.post_signed(
        urlencode({"payload": json.dumps(action)}), "application/x-www-form-urlencoded"
    )
    assert status == 200

    await bot.drain()
    assert await queued(bot) == 0
    assert bot.thread(ALERT_CHANNEL, alert["ts"]) == []
    assert not bot.calls("chat.postMessage")

    records = await denials(bot)
    assert [r["what"] for r in records] == [
        "event message",
        "command /wizard",
        "command /wizard",
        "block_actions",
    ]
    assert all(r["reason"] == "team_not_allowed" for r in records)
    assert all(r["team_ids"] == [FOREIGN_TEAM] for r in records)
    assert records[1]["user"] == "U0ONCALL" and records[1]["channel"] == ASK_CHANNEL
    assert records[3]["user"] == "U0MALLORY"
    assert await bot.runtime.audit.verify() == (len(await bot.runtime.audit.records()), None)


async def test_request_hiding_a_foreign_enterprise_is_refused(team_bot: Bot) -> None:
    bot = team_bot
    alert = bot.sandbox.inject_message(ALERT_CHANNEL, alert_message())
    envelope = json.loads(event_body(alert, event_id="EvGrid", team_id=OUR_TEAM))
    envelope["enterprise_id"] = "E0OTHERORG"
    status, _ = await bot.post_signed(json.dumps(envelope))
    assert status == 200
    await bot.drain()
    assert await queued(bot) == 0
    [record] = await denials(bot)
    assert record["team_ids"] == ["E0OTHERORG", OUR_TEAM]


async def test_allowed_team_is_served(team_bot: Bot) -> None:
    bot = team_bot
    ts = await bot.post_alert(alert_message())
    help_reply = await slash(bot, "help")
    assert help_reply["response_type"] == "ephemeral" and "/wizard status" in json.dumps(help_reply)
    ack = await slash(bot, "what should we check when order latency spikes?")
    assert ack["response_type"] == "in_channel"
    await bot.drain()
    assert await queued(bot) == 2  # the probe the refusal tests rely on does count jobs
    assert len(bot.thread(ALERT_CHANNEL, ts)) == 3  # incident summary + analysis + plan
    assert [m for m in bot.sandbox.messages(ASK_CHANNEL) if m.get("bot_id")]
    assert await denials(bot) == []


# --- command channels -----------------------------------------------------------------------------


async def test_wizard_outside_command_channels_is_refused_politely(channel_bot: Bot) -> None:
    bot = channel_bot
    reply = await slash(bot, "deploy the new algo?", channel=OTHER_CHANNEL)
    assert reply["response_type"] == "ephemeral"
    assert f"<#{ASK_CHANNEL}>" in reply["text"] and "sorry" in reply["text"].lower()

    mention = bot.sandbox.inject_message(
        OTHER_CHANNEL, {"type": "app_mention", "user": "U0TRADER", "text": "<@U0WIZARD> help me"}
    )
    status, _ = await send_event(bot, mention)
    assert status == 200
    await bot.drain()

    assert await queued(bot) == 0
    assert [m for m in bot.sandbox.messages(OTHER_CHANNEL) if m.get("bot_id")] == []
    [ephemeral] = bot.calls("chat.postEphemeral")
    assert ephemeral.params["channel"] == OTHER_CHANNEL
    assert ephemeral.params["user"] == "U0TRADER"
    assert f"<#{ASK_CHANNEL}>" in ephemeral.params["text"]

    command, mentioned = await denials(bot)
    assert command["reason"] == mentioned["reason"] == "channel_not_allowed"
    assert command["what"] == "command /wizard deploy"
    assert (command["user"], command["channel"]) == ("U0ONCALL", OTHER_CHANNEL)
    assert "new algo" in command["text"]
    assert mentioned["what"] == "mention"
    assert (mentioned["user"], mentioned["channel"]) == ("U0TRADER", OTHER_CHANNEL)


async def test_allowed_channel_and_alert_threads_still_work(channel_bot: Bot) -> None:
    bot = channel_bot
    ack = await slash(bot, "capacity plan for the FIX gateways?")
    assert ack["response_type"] == "in_channel"
    mention = bot.sandbox.inject_message(
        ASK_CHANNEL, {"type": "app_mention", "user": "U0ONCALL", "text": "<@U0WIZARD> status?"}
    )
    assert (await send_event(bot, mention))[0] == 200

    # auto-triage is governed by WIZARD_ALERT_CHANNELS alone, and a mention in the alert's
    # thread is a follow-up, not a new question, so it is answered there too
    ts = await bot.post_alert(alert_message())
    await bot.drain()
    followup = bot.sandbox.inject_message(
        ALERT_CHANNEL,
        {
            "type": "app_mention",
            "user": "U0ONCALL",
            "text": "<@U0WIZARD> roll back?",
            "thread_ts": ts,
        },
    )
    assert (await send_event(bot, followup))[0] == 200
    await bot.drain()

    answers = [
        m for m in bot.sandbox.messages(ASK_CHANNEL, include_replies=True) if m.get("bot_id")
    ]
    # the command's question header and its streamed answer; the mention's streamed answer
    assert len(answers) == 3
    wizard_replies = [m for m in bot.thread(ALERT_CHANNEL, ts) if m.get("bot_id")]
    assert len(wizard_replies) == 4  # the summary, the triage (+ plan), the streamed follow-up
    assert await denials(bot) == []
    assert not bot.calls("chat.postEphemeral")


# --- who may change state -------------------------------------------------------------------------


async def test_may_change_state_for_listed_user_group_member_and_stranger(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    sandbox.usergroups["S0ONCALL"] = ["U0ALICE", "U0BOB"]
    bot = await _bot(
        sandbox,
        llm,
        redis_server,
        tmp_path,
        WIZARD_PRIVILEGED_USERS="U0BOSS",
        WIZARD_PRIVILEGED_GROUPS="S0ONCALL,S0GONE",
    )
    try:
        policy = bot.runtime.access
        assert await policy.may_change_state("U0BOSS", frozenset())
        assert not bot.calls("usergroups.users.list")

        assert await policy.may_change_state("U0ALICE", frozenset())
        lookups = bot.calls("usergroups.users.list")
        assert [c.params["usergroup"] for c in lookups] == ["S0GONE", "S0ONCALL"]

        assert not await policy.may_change_state("U0STRANGER", frozenset())
        assert await policy.may_change_state("U0BOB")
        # S0ONCALL is cached; the unknown S0GONE (an API error) is asked again, never cached
        assert [c.params["usergroup"] for c in bot.calls("usergroups.users.list")] == [
            "S0GONE",
            "S0ONCALL",
            "S0GONE",
            "S0GONE",
        ]
        assert await policy.may_change_state("U0CAROL", frozenset({"S0ONCALL"}))
        assert not await policy.may_change_state(None, frozenset({"S0ONCALL"}))
    finally:
        await stop_bot(bot)


async def test_group_cache_expires_and_lookup_failure_denies(sandbox: SlackSandbox) -> None:
    now = [1000.0]
    policy = AccessPolicy(
        privileged_groups=frozenset({"S0ONCALL"}),
        client=make_web_client("xoxb-test-bot-token", sandbox.base_url),
        cache_ttl_s=30,
        clock=lambda: now[0],
    )
    sandbox.usergroups["S0ONCALL"] = ["U0ALICE"]
    assert await policy.may_change_state("U0ALICE", frozenset())

    sandbox.usergroups["S0ONCALL"] = []  # Alice leaves the rota
    assert await policy.may_change_state("U0ALICE", frozenset())  # still cached
    now[0] += 31
    assert not await policy.may_change_state("U0ALICE", frozenset())

    sandbox.usergroups["S0ONCALL"] = ["U0ALICE"]
    now[0] += 31
    sandbox.fail_next("usergroups.users.list", error="missing_scope")
    assert not await policy.may_change_state("U0ALICE", frozenset())  # fail closed
    assert await policy.may_change_state("U0ALICE", frozenset())  # not cached as a failure
    assert len(sandbox.calls) == 4


async def test_no_privileged_lists_means_nobody_changes_state() -> None:
    policy = AccessPolicy()
    assert not await policy.may_change_state("U0ANYONE", frozenset({"S0ANY"}))


# --- policy units and settings --------------------------------------------------------------------


def test_team_ids_are_collected_from_every_shape() -> None:
    assert team_ids({"team_id": "T1", "enterprise_id": "E1"}) == {"T1", "E1"}
    assert team_ids({"team": {"id": "T2"}, "enterprise": {"id": "E2"}}) == {"T2", "E2"}
    body = {
        "team_id": "T1",
        "authorizations": [{"team_id": "T3", "enterprise_id": None}, "junk"],
        "enterprise_id": None,
    }
    assert team_ids(body) == {"T1", "T3"}
    assert team_ids({}) == frozenset()


def test_team_allowed_and_channel_allowed() -> None:
    open_policy = AccessPolicy()
    assert open_policy.team_allowed({})
    assert open_policy.channel_allowed_for_commands("C1")
    policy = AccessPolicy(
        allowed_team_ids=frozenset({"T1", "E1"}), command_channels=frozenset({"C1"})
    )
    assert policy.team_allowed({"team_id": "T1"})
    assert policy.team_allowed({"team_id": "T1", "enterprise_id": "E1"})
    assert not policy.team_allowed({"team_id": "T1", "authorizations": [{"team_id": "T9"}]})
    assert not policy.team_allowed({})  # no id at all: fail closed
    assert policy.channel_allowed_for_commands("C1")
    assert not policy.channel_allowed_for_commands("C2")
    assert not policy.channel_allowed_for_commands(None)


def test_access_settings_parse_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIZARD_COMMAND_CHANNELS", "C0INFRA, C0OPS")
    monkeypatch.setenv("WIZARD_ALLOWED_TEAM_IDS", "T0WIZ E0ORG")
    monkeypatch.setenv("WIZARD_PRIVILEGED_USERS", "U1,U2,,U3")
    monkeypatch.setenv("WIZARD_PRIVILEGED_GROUPS", "S0ONCALL")
    settings = load_settings()
    assert settings.command_channels == {"C0INFRA", "C0OPS"}
    assert settings.allowed_team_ids == {"T0WIZ", "E0ORG"}
    assert settings.privileged_users == {"U1", "U2", "U3"}
    assert settings.privileged_groups == {"S0ONCALL"}
    policy = AccessPolicy.from_settings(settings, None)
    assert policy.command_channels == settings.command_channels


def test_access_settings_default_to_open(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WIZARD_COMMAND_CHANNELS",
        "WIZARD_ALLOWED_TEAM_IDS",
        "WIZARD_PRIVILEGED_USERS",
        "WIZARD_PRIVILEGED_GROUPS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.command_channels == settings.allowed_team_ids == frozenset()
    assert settings.privileged_users == settings.privileged_groups == frozenset()


def test_access_setting_of_wrong_type_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="WIZARD_PRIVILEGED_GROUPS"):
        load_settings(WIZARD_PRIVILEGED_GROUPS=42)
