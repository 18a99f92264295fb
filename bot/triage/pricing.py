"""What a model call cost, in Decimal dollars, from the dated price list in `prices.yaml`.

Cost goes into every audit record and reply footer, so finance and the desk heads can see what the
wizard spends per incident. Prices are data (a dated, sourced file), not code: a price change is a
one-line reviewed edit. A model the file does not list costs `None` ("unknown") — pricing it as
some other model would put a wrong figure in a compliance record.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from bot.models import Usage
from bot.yamldoc import load_model

log = structlog.get_logger(__name__)

MTOK = Decimal(1_000_000)
PRICES_FILE = Path(__file__).with_name("prices.yaml")

# Provider spellings of one Claude API id: Bedrock `us.anthropic.<id>-v1:0`, Vertex `<id>@date`.
_BEDROCK_PREFIX = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic\.")
_SNAPSHOT = re.compile(r"(?:-v\d+)?(?:[-@]\d{8})?(?:-v\d+(?::\d+)?)?")


class ModelPrice(BaseModel):
    """Dollars per million tokens; cache prices left out are derived from `input`."""

    model_config = ConfigDict(extra="forbid")

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    cache_read: Decimal | None = None


class PriceList(BaseModel):
    """The whole of prices.yaml."""

    model_config = ConfigDict(extra="forbid")

    as_of: date
    source: str
    cache_multipliers: dict[str, Decimal]
    batch_multiplier: Decimal
    inference_geo_multipliers: dict[str, Decimal] = Field(default_factory=dict)
    models: dict[str, ModelPrice]

    def rates(self, price: ModelPrice) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """(input, output, 5-min write, 1-hour write, read), filling gaps by the multipliers."""
        mult = self.cache_multipliers
        return (
            price.input,
            price.output,
            price.cache_write_5m or price.input * mult["cache_write_5m"],
            price.cache_write_1h or price.input * mult["cache_write_1h"],
            price.cache_read or price.input * mult["cache_read"],
        )

    def lookup(self, model: str) -> ModelPrice | None:
        """The row for `model` in any provider's spelling; None when it is not listed.

        Only an exact id, or the id plus a snapshot date / Bedrock version suffix, matches:
        `claude-sonnet-5-7` must not be priced as `claude-sonnet-5`.
        """
        name = _BEDROCK_PREFIX.sub("", model.strip().lower())
        for key in sorted(self.models, key=len, reverse=True):
            if name.startswith(key) and _SNAPSHOT.fullmatch(name[len(key) :]):
                return self.models[key]
        return None


@functools.cache
def price_list(path: Path = PRICES_FILE) -> PriceList:
    """The parsed price file (read once; a broken file fails with `file:line: what`)."""
    return load_model(PriceList, path)


def _count(usage: object, name: str) -> int:
    return int(getattr(usage, name, 0) or 0)


def price_usage(model: str, usage: object, *, batch: bool = False) -> Usage:
    """Turn the SDK's usage object into our `Usage` with its Decimal cost (None if unknown)."""
    cache_creation: Any = getattr(usage, "cache_creation", None)
    details: Any = getattr(usage, "output_tokens_details", None)
    geo = getattr(usage, "inference_geo", None)
    counted = Usage(
        input_tokens=_count(usage, "input_tokens"),
        output_tokens=_count(usage, "output_tokens"),
        cache_creation_input_tokens=_count(usage, "cache_creation_input_tokens"),
        cache_read_input_tokens=_count(usage, "cache_read_input_tokens"),
        cache_write_1h_tokens=_count(cache_creation, "ephemeral_1h_input_tokens"),
        thinking_tokens=_count(details, "thinking_tokens"),
        inference_geo=geo if isinstance(geo, str) else None,
        service_tier=getattr(usage, "service_tier", None),
        cost_usd=None,
    )
    return counted.model_copy(update={"cost_usd": cost_of(model, counted, batch=batch)})


def cost_of(model: str, usage: Usage, *, batch: bool = False) -> Decimal | None:
    """Dollars for `usage` on `model`, or None when the model has no listed price."""
    prices = price_list()
    row = prices.lookup(model)
    if row is None:
        log.warning("model_price_unknown", model=model, prices_as_of=str(prices.as_of))
        return None
    inp, out, write_5m, write_1h, read = prices.rates(row)
    write_1h_tokens = min(usage.cache_write_1h_tokens, usage.cache_creation_input_tokens)
    cost = (
        usage.input_tokens * inp
        + usage.output_tokens * out
        + (usage.cache_creation_input_tokens - write_1h_tokens) * write_5m
        + write_1h_tokens * write_1h
        + usage.cache_read_input_tokens * read
    ) / MTOK
    if usage.inference_geo:
        geo = prices.inference_geo_multipliers.get(usage.inference_geo)
        if geo is None:
            log.warning("inference_geo_price_unknown", geo=usage.inference_geo)
            return None
        cost *= geo
    if batch:
        cost *= prices.batch_multiplier
    return cost.quantize(Decimal("0.000001"))
