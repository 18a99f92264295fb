"""Figures for market-session awareness: import time of exchange-calendars, calendar load time
per venue (cold, in a fresh process), and the cost of one cached `session()` look-up.

    .venv/bin/python bench/market_clock.py [--venues XNYS,XLON,...] [--calls 2000]

Prints JSON. Run it in a fresh process: the import and load figures are first-use costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime

DEFAULT_VENUES = "XNYS,XLON,XETR,XPAR,XAMS,XTKS,XHKG,CMES,XEUR"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", default=DEFAULT_VENUES)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    venues = args.venues.split(",")

    started = time.perf_counter()
    import exchange_calendars  # noqa: F401  (the first-use import cost is the figure)

    import_s = time.perf_counter() - started

    from bot.logs import configure_logging
    from bot.market.sessions import MarketClock

    configure_logging("WARNING")
    clock = MarketClock()
    at = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    warm_s = clock.warm(venues, at)
    samples = []
    for i in range(args.calls):
        venue = venues[i % len(venues)]
        t0 = time.perf_counter()
        clock.session(venue, at)
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    print(
        json.dumps(
            {
                "import_exchange_calendars_s": round(import_s, 3),
                "warm_all_s": round(warm_s, 3),
                "load_s_per_venue": {k: round(v, 3) for k, v in clock.load_seconds.items()},
                "session_call_us": {
                    "p50": round(statistics.median(samples), 1),
                    "p99": round(samples[int(len(samples) * 0.99) - 1], 1),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
