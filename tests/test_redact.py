"""Secrets and trading identifiers are masked; ordinary operational text is left alone."""

from __future__ import annotations

import pytest

from bot.redact import redact, redact_obj, redact_thorough

SECRETS = [
    "xoxb-1234567890-abcdefghijkl",
    "xapp-1-A0123-4567-abcdef",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a" * 36,
    "sk-ant-api03-" + "b" * 40,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "glpat-" + "c" * 20,
]


@pytest.mark.parametrize("secret", SECRETS)
def test_tokens_are_masked(secret: str) -> None:
    out = redact(f"error calling api with {secret} at 09:30")
    assert secret not in out
    assert "[REDACTED:" in out
    assert "at 09:30" in out


def test_passwords_keys_and_headers() -> None:
    text = (
        "dsn=postgres://trader:hunter2@db-1:5432/oms Authorization: Bearer abcdefghijklmnop123 "
        "password=s3cr3t! api_key: 'zzzzzzzz'\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"
        "-----END RSA PRIVATE KEY-----"
    )
    out = redact(text)
    for leaked in ("hunter2", "abcdefghijklmnop123", "s3cr3t!", "zzzzzzzz", "MIIE"):
        assert leaked not in out
    assert "postgres://trader:" in out and "@db-1:5432/oms" in out


def test_trading_identifiers() -> None:
    text = (
        "reject for account ACC-778812 LEI 5493001KJTIIGC8Y1R12 ClOrdID=ORD20261128-0042 "
        "client_name=Acme Capital strategy_id=stat-arb-7"
    )
    out = redact(text)
    for leaked in (
        "778812",
        "5493001KJTIIGC8Y1R12",
        "ORD20261128-0042",
        "Acme Capital",
        "stat-arb-7",
    ):
        assert leaked not in out


def test_operational_text_untouched() -> None:
    text = (
        "p99 latency 7.8ms on order-gateway ogw-2:9102 since 08:40; accounting job ok; "
        "strategy: blue-green; kafka consumer lag 182000"
    )
    assert redact(text) == text


def test_redact_obj_walks_structures() -> None:
    value = {"a": ["xoxb-1234567890-abcdefghijkl", {"b": "password=abc123"}], "n": 3}
    out = redact_obj(value)
    assert "xoxb-1234567890" not in str(out)
    assert out["n"] == 3


# Token formats our own patterns do not know; detect-secrets' plugins do.
DETECTOR_ONLY = [
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",  # Stripe
    "SG." + "a" * 22 + "." + "b" * 43,  # SendGrid
    "SK" + "0123456789abcdef" * 2,  # Twilio
    "0123456789abcdef0123456789abcdef-us12",  # Mailchimp
]


@pytest.mark.parametrize("secret", DETECTOR_ONLY)
def test_thorough_redaction_uses_detect_secrets_plugins(secret: str) -> None:
    text = f"config dump: key={secret} region=eu-west-1"
    out = redact_thorough(text)
    assert secret not in out
    assert "region=eu-west-1" in out
    assert redact_thorough(out) == out


def test_thorough_keeps_operational_text_and_hashes() -> None:
    text = "fingerprint 3449b6ee94e2a87b prompt_hash " + "ab" * 32 + " on 10.1.2.3:9100"
    assert redact_thorough(text) == text


def test_long_strings_are_redacted_but_not_cached() -> None:
    """Prompts and whole answers are seen once: caching them grew the RSS with every event."""
    from bot import redact as module

    long_text = "order-gateway latency " * 100 + " password=hunter2hunter2 "
    before = module._redact_cached.cache_info().currsize
    assert "hunter2hunter2" not in module.redact(long_text)
    assert module._redact_cached.cache_info().currsize == before
    module.redact(f"short line {id(long_text)}")  # a string no other test redacts
    assert module._redact_cached.cache_info().currsize == before + 1
