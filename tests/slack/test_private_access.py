"""Who may ask in a DM or the assistant pane: the members of WIZARD_COMMAND_CHANNELS (read with
conversations.members through the real slack-sdk client against the local Slack, every page),
or anyone when the wizard is not confined to channels; a failed lookup denies."""

from __future__ import annotations

from bot.devtools.slack import SlackSandbox
from bot.slack.access import AccessPolicy, private_denial_text
from bot.slack.client import make_web_client


def policy_for(sandbox: SlackSandbox, *channels: str, now: list[float]) -> AccessPolicy:
    return AccessPolicy(
        command_channels=frozenset(channels),
        client=make_web_client("xoxb-test-bot-token", sandbox.base_url),
        cache_ttl_s=60,
        clock=lambda: now[0],
    )


async def test_members_of_any_command_channel_may_ask_every_page_read(
    sandbox: SlackSandbox,
) -> None:
    now = [1000.0]
    sandbox.channel_members["C0INFRA"] = [f"U{n:07d}" for n in range(2500)]
    sandbox.channel_members["C0SRE"] = ["U0ALICE"]
    policy = policy_for(sandbox, "C0INFRA", "C0SRE", now=now)
    assert await policy.may_ask_privately("U0002499")  # on the third page of C0INFRA
    pages = [c for c in sandbox.calls if c.method == "conversations.members"]
    assert len(pages) == 3 and [c.params.get("cursor") for c in pages] == [None, "1000", "2000"]
    assert await policy.may_ask_privately("U0ALICE")
    assert not await policy.may_ask_privately("U0STRANGER")
    assert not await policy.may_ask_privately(None)
    calls = len(sandbox.calls)
    assert await policy.may_ask_privately("U0000007")  # cached for a minute
    assert len(sandbox.calls) == calls


async def test_a_removed_member_is_refused_once_the_cache_expires_and_failures_deny(
    sandbox: SlackSandbox,
) -> None:
    now = [1000.0]
    sandbox.channel_members["C0INFRA"] = ["U0ALICE"]
    policy = policy_for(sandbox, "C0INFRA", now=now)
    assert await policy.may_ask_privately("U0ALICE")
    sandbox.channel_members["C0INFRA"] = []
    now[0] += 61
    assert not await policy.may_ask_privately("U0ALICE")
    sandbox.channel_members["C0INFRA"] = ["U0ALICE"]
    now[0] += 61
    sandbox.fail_next("conversations.members", error="missing_scope")
    assert not await policy.may_ask_privately("U0ALICE")  # fail closed
    assert await policy.may_ask_privately("U0ALICE")  # a failure is not cached


async def test_unconfined_wizard_lets_anyone_in_the_workspace_ask(sandbox: SlackSandbox) -> None:
    policy = policy_for(sandbox, now=[0.0])
    assert await policy.may_ask_privately("U0ANYONE")
    assert not [c for c in sandbox.calls if c.method == "conversations.members"]


def test_the_refusal_names_the_channels_to_ask_in() -> None:
    policy = AccessPolicy(command_channels=frozenset({"C0INFRA", "C0SRE"}))
    text = private_denial_text(policy)
    assert "<#C0INFRA>, <#C0SRE>" in text and text.startswith("🧙 Sorry")
