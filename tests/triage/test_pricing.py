"""Prices come from the dated list in bot/triage/prices.yaml, in Decimal; unknown is unknown."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.models import Usage
from bot.triage.pricing import PRICES_FILE, cost_of, price_list, price_usage
from bot.yamldoc import DataFileError, load_model


def usage(**counts: int | str) -> Usage:
    return Usage.model_validate(counts)


def test_the_file_is_dated_and_sourced() -> None:
    prices = price_list()
    assert prices.as_of.isoformat() >= "2026-12-01"
    assert "platform.claude.com" in prices.source


def test_sonnet_5_5_published_prices() -> None:
    # 1000 in × $2 + 500 out × $10 + 2000 cache read × $0.20, per million
    target = usage(input_tokens=1000, output_tokens=500, cache_read_input_tokens=2000)
    assert cost_of("claude-sonnet-5-5", target) == Decimal("0.0074")
    one_mtok = {"input_tokens": 1_000_000}
    assert cost_of("claude-sonnet-5-5", usage(**one_mtok)) == Decimal("2")
    assert cost_of("claude-sonnet-5-5", usage(output_tokens=1_000_000)) == Decimal("10")
    writes = usage(cache_creation_input_tokens=2_000_000, cache_write_1h_tokens=1_000_000)
    assert cost_of("claude-sonnet-5-5", writes) == Decimal("6.5")  # $2.50 (5 min) + $4 (1 h)


def test_cache_prices_derived_by_the_published_multipliers() -> None:
    row = price_list().lookup("claude-opus-5-5")
    assert row is not None
    assert price_list().rates(row) == (
        Decimal("4"),
        Decimal("20"),
        Decimal("5.00"),
        Decimal("8"),
        Decimal("0.40"),
    )
    assert cost_of("claude-haiku-4-5", usage(input_tokens=1_000_000, output_tokens=1_000_000)) == 6


@pytest.mark.parametrize(
    "model",
    [
        "claude-sonnet-5-5-20260928",
        "claude-sonnet-5-5@20260928",
        "anthropic.claude-sonnet-5-5",
        "us.anthropic.claude-sonnet-5-5",
        "global.anthropic.claude-sonnet-5-5-v1:0",
    ],
)
def test_provider_spellings_resolve_to_the_same_row(model: str) -> None:
    assert price_list().lookup(model) == price_list().lookup("claude-sonnet-5-5")


@pytest.mark.parametrize("model", ["claude-sonnet-5-7", "claude-unreleased-9", "gpt-6", ""])
def test_unknown_models_cost_unknown(model: str) -> None:
    assert price_list().lookup(model) is None
    assert cost_of(model, usage(input_tokens=10)) is None


def test_older_models_keep_their_prices() -> None:
    assert price_list().lookup("claude-sonnet-4-5-20250929") is not None
    assert cost_of("claude-sonnet-4-5", usage(input_tokens=1_000_000)) == Decimal("3")
    assert cost_of("claude-opus-4-1", usage(output_tokens=1_000_000)) == Decimal("75")
    assert cost_of("claude-3-haiku-20240307", usage(cache_read_input_tokens=10**6)) == Decimal(
        "0.03"
    )


def test_us_inference_geo_and_batch_multipliers() -> None:
    base = {"input_tokens": 1_000_000, "output_tokens": 100_000}
    assert cost_of("claude-sonnet-5-5", usage(**base)) == Decimal("3")
    assert cost_of("claude-sonnet-5-5", usage(**base, inference_geo="us")) == Decimal("3.3")
    assert cost_of("claude-sonnet-5-5", usage(**base, inference_geo="global")) == Decimal("3")
    assert cost_of("claude-sonnet-5-5", usage(**base), batch=True) == Decimal("1.5")
    assert cost_of("claude-sonnet-5-5", usage(**base, inference_geo="mars")) is None


def test_price_usage_reads_the_sdk_usage_shape() -> None:
    from anthropic.types import Usage as SdkUsage

    sdk = SdkUsage.model_validate(
        {
            "input_tokens": 1000,
            "output_tokens": 500,
            "cache_creation_input_tokens": 300,
            "cache_read_input_tokens": 2000,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
            "output_tokens_details": {"thinking_tokens": 120},
            "inference_geo": "global",
            "service_tier": "standard",
        }
    )
    priced = price_usage("claude-sonnet-5-5", sdk)
    assert priced.cache_write_1h_tokens == 200 and priced.thinking_tokens == 120
    # 0.0074 + 100 × 2.50/M + 200 × 4/M
    assert priced.cost_usd == Decimal("0.00845")
    assert price_usage("claude-unreleased-9", sdk).cost_usd is None


def test_a_broken_price_file_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "prices.yaml"
    text = PRICES_FILE.read_text().replace('input: "4", output: "20"', 'input: "four"')
    broken.write_text(text)
    from bot.triage.pricing import PriceList

    with pytest.raises(DataFileError, match=r"prices.yaml:\d+: models.claude-opus-5-5.input"):
        load_model(PriceList, broken)
