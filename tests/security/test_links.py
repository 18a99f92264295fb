"""Links the renderer itself builds (alert links, runbook URLs) cannot point somewhere else.

Why: alert links come from attacker-reachable payloads; a URL with user-info
(`https://trusted.host@evil.example/`) reads as the trusted host and opens the other one.
"""

from __future__ import annotations

import pytest

from bot.render.mrkdwn import link, safe_url


@pytest.mark.parametrize(
    "url",
    [
        "https://runbooks.internal@evil.example/",
        "https://user:pass@evil.example/x",
        "http://a@b",
    ],
)
def test_user_info_urls_are_never_links(url: str) -> None:
    assert safe_url(url) is None
    assert "<" not in link(url, "runbook")


def test_plain_urls_with_at_in_the_path_are_still_links() -> None:
    assert safe_url("https://runbooks.internal/team/@oncall?x=1&y=2") == (
        "https://runbooks.internal/team/@oncall?x=1&amp;y=2"
    )
