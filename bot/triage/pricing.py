"""What a model call cost, in Decimal dollars (list prices per million tokens).

Cost goes into every audit record and reply footer, so finance and the desk heads can see what the
wizard spends per incident. Unknown models are priced as Sonnet and flagged in the log.
"""

from __future__ import annotations

from decimal import Decimal

import structlog

from bot.models import Usage

log = structlog.get_logger(__name__)

MTOK = Decimal(1_000_000)

# family: (input, output, cache write 5 min, cache read) dollars per million tokens
_PRICES: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    "opus": (Decimal("5"), Decimal("25"), Decimal("6.25"), Decimal("0.50")),
    "sonnet": (Decimal("3"), Decimal("15"), Decimal("3.75"), Decimal("0.30")),
    "haiku": (Decimal("1"), Decimal("5"), Decimal("1.25"), Decimal("0.10")),
}


def price_usage(model: str, usage: object) -> Usage:
    """Turn the SDK's usage object into our `Usage` with its Decimal cost."""
    family = next((name for name in _PRICES if name in model), None)
    if family is None:
        log.warning("model_price_unknown", model=model)
        family = "sonnet"
    inp, out, write, read = _PRICES[family]
    counts = {
        name: int(getattr(usage, name, 0) or 0)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    }
    cost = (
        counts["input_tokens"] * inp
        + counts["output_tokens"] * out
        + counts["cache_creation_input_tokens"] * write
        + counts["cache_read_input_tokens"] * read
    ) / MTOK
    return Usage(**counts, cost_usd=cost.quantize(Decimal("0.000001")))
