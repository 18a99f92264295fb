"""The streamed-text guard: what it releases, at which boundaries, and that no split — of a
token, a `key: value` pair, a card number, a private key, a mention or a link — lets through
what the whole text's guard would have caught."""

from __future__ import annotations

import pytest

from bot.models import RollbackPlan
from bot.triage.chunks import ChunkGuard, chunk_policy
from bot.triage.guard import GuardPolicy, clean_string
from bot.triage.streaming import answer_from_text

SLACK_TOKEN = "xoxb-2231234567-98765432109-AbCdEfGhIjKlMnOp"
CASES = {
    "slack token": f"Rotate {SLACK_TOKEN} first, then restart.\n",
    "key and value": "The db password: hunter2-very-secret is in the vault.\n",
    "key, newline, value": "password:\nhunter2-very-secret\nnext line\n",
    "bearer": "curl -H 'Authorization: Bearer abcdefghijklmnop0123456789' the api\n",
    "card number": "charged card 4111 1111 1111 1111 twice\n",
    "private key": (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7d3nJ8\nq9ZbX2kLr0\n"
        "-----END RSA PRIVATE KEY-----\nthen redeploy\n"
    ),
    "mass mention": "Tell everyone: <!channel> and @here, now.\n",
    "foreign link": "Read [the fix](https://evil.example/phish) or evil.example/x now.\n",
}
SECRETS = {
    "slack token": ["98765432109-AbCd"],
    "key and value": ["hunter2"],
    "key, newline, value": ["hunter2"],
    "bearer": ["abcdefghijklmnop0123456789"],
    "card number": ["4111 1111 1111 1111", "1111 1111"],
    "private key": ["MIIEpAIBAAKCAQEA7d3nJ8", "q9ZbX2kLr0"],
    "mass mention": ["<!channel>", "@here"],
    "foreign link": ["evil.example"],
}


def stream(text: str, size: int) -> list[str]:
    guard = ChunkGuard(chunk_policy(GuardPolicy()))
    out = [guard.feed(text[n : n + size]) for n in range(0, len(text), size)]
    return [c for c in [*out, guard.flush()] if c]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("size", [1, 3, 4, 7, 16, 1000])
def test_no_split_leaks_what_the_whole_text_guard_removes(name: str, size: int) -> None:
    text = CASES[name] * 2
    chunks = stream(text, size)
    joined = "".join(chunks)
    for secret in SECRETS[name]:
        assert all(secret not in c for c in chunks), (secret, chunks)
        assert secret not in joined
    assert secret_free(joined) == secret_free(clean_string(text, chunk_policy(GuardPolicy())))


def secret_free(text: str) -> str:
    return " ".join(text.split())


def test_a_token_split_across_two_deltas_is_held_until_it_is_whole() -> None:
    guard = ChunkGuard(chunk_policy(GuardPolicy()))
    assert guard.feed("Use token xoxb-22312") == ""  # no boundary yet: nothing released
    released = guard.feed("34567-98765432109-AbCdEfGhIjKlMnOp to call it\n")
    assert "[REDACTED:slack-token]" in released and "AbCd" not in released


def test_first_words_do_not_wait_for_a_newline() -> None:
    guard = ChunkGuard(chunk_policy(GuardPolicy()))
    words = "Hold the rollback until the error rate is confirmed by the dashboard and then "
    released = guard.feed(words * 3)
    assert released.startswith("Hold the rollback") and len(released) < len(words * 3)


def test_invented_versions_are_replaced_when_deploy_history_is_known() -> None:
    guard = ChunkGuard(chunk_policy(GuardPolicy()), history=[])
    out = guard.feed("Roll back to v6.6.6 now.\n") + guard.flush()
    assert "6.6.6" not in out and "[unverified version]" in out
    assert guard.rejected_versions == ["v6.6.6"] or "6.6.6" in guard.rejected_versions[0]


def test_markdown_parts_are_parsed_back_into_the_answer() -> None:
    text = (
        "Hold for now: the error rate is falling.\n\n## Immediate actions\n- Watch p99.\n"
        "1. Page the owner.\n## Implementation plan\n- Nothing yet.\n"
        "## Risk mitigation (incl. rollback)\n- Keep the build warm.\n"
        "## Performance benchmarks / success criteria\n- p99 < 5 ms.\n"
        "## Clarifying questions\n- Which venue?\n"
    )
    answer = answer_from_text(text, RollbackPlan())
    assert answer.summary == "Hold for now: the error rate is falling."
    assert answer.immediate_actions == ["Watch p99.", "Page the owner."]
    assert answer.risk_mitigation == ["Keep the build warm."]
    assert answer.success_criteria == ["p99 < 5 ms."]
    assert answer.clarifying_questions == ["Which venue?"]
    assert answer.monitoring_strategy == []
