"""The model gate: how many analyses talk to the model at once, and when none should.

The analysis stage is bounded by the model's limits, not by a worker count: at most
`WIZARD_LLM_CONCURRENCY` calls are in flight per process, and when the API says it is out of
capacity every new call waits until it says it has some again. That signal comes from the
response headers the Anthropic API sends on every response:

- `retry-after` (seconds, or an HTTP date) and `retry-after-ms` on a 429/529: pause that long
  ("earlier retries will fail"); when present it is the answer, because the limits refill
  continuously and `…-reset` is only when a bucket is *fully* replenished;
- otherwise `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining`
  reaching 0, with the matching `…-reset` (RFC 3339): pause until that instant.

**The hook.** Whatever makes the model request calls `gate.observe(response.headers)` for each
HTTP response it gets, retries included (with the official SDK: an httpx `response` event hook on
the client's `http_client`, see `response_hook`). The SDK's own retry of a 429 still honours
`retry-after` for the call that got it; the gate keeps the *other* analyses from piling onto a
limit that is already spent.

A pause is per process (replicas learn the limit from their own responses, within one call) and
is capped at `MAX_PAUSE_S`, so a malformed header cannot stop analyses for good. A caller that
cannot wait that long (an alert must be answered within `WIZARD_LLM_DEADLINE_S`) passes
`max_pause` and gets `ModelPaused` at once: it gives the runbook answer now, saying why, instead of
a silent thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import structlog

from bot import metrics

log = structlog.get_logger(__name__)

MAX_PAUSE_S = 120.0
LIMITS = ("requests", "tokens", "input-tokens", "output-tokens")


def _seconds_until(value: str, now_wall: float) -> float | None:
    """An RFC 3339 instant or an HTTP date, as seconds from `now_wall`; None if unreadable."""
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        return None
    return when.timestamp() - now_wall


def pause_from_headers(headers: Mapping[str, str], now_wall: float) -> tuple[float, str] | None:
    """How long the response's headers ask callers to hold off, and why; None if they don't."""
    lower = {k.lower(): v for k, v in headers.items()}
    waits: list[tuple[float, str]] = []
    if (ms := lower.get("retry-after-ms")) is not None:
        with contextlib.suppress(ValueError):
            waits.append((float(ms) / 1000, "retry-after-ms"))
    if (after := lower.get("retry-after")) is not None:
        try:
            waits.append((float(after), "retry-after"))
        except ValueError:
            if (until := _seconds_until(after, now_wall)) is not None:
                waits.append((until, "retry-after"))
    for limit in LIMITS if not waits else ():
        remaining = lower.get(f"anthropic-ratelimit-{limit}-remaining")
        reset = lower.get(f"anthropic-ratelimit-{limit}-reset")
        if remaining is None or reset is None:
            continue
        try:
            spent = int(remaining) <= 0
        except ValueError:
            continue
        if spent and (until := _seconds_until(reset, now_wall)) is not None:
            waits.append((until, f"{limit} limit reached"))
    waits = [(min(s, MAX_PAUSE_S), why) for s, why in waits if s > 0]
    return max(waits) if waits else None


class ModelPaused(Exception):
    """The API asked for a pause longer than the caller can wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the model API asked to hold off {seconds:.0f}s (rate limit)")
        self.seconds = seconds


class ModelGate:
    """An asyncio concurrency limit plus a pause that follows the API's rate-limit signals."""

    def __init__(
        self,
        concurrency: int = 64,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.concurrency = concurrency
        self._clock = clock
        self._wall = wall
        self._slots = asyncio.Semaphore(concurrency)
        self._paused_until = 0.0
        self.in_use = 0
        self.waiting = 0

    # --- the hook ---------------------------------------------------------------------------
    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from one model API response's headers (call it for every response)."""
        found = pause_from_headers(headers, self._wall())
        if found is None:
            return
        seconds, why = found
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            metrics.LLM_PAUSED.set(1)
            log.warning("model_gate_paused", seconds=round(seconds, 3), reason=why)

    async def response_hook(self, response: Any) -> None:
        """An httpx `response` event hook: `DefaultAsyncHttpxClient(event_hooks={"response":
        [gate.response_hook]})` passed as the Anthropic client's `http_client`."""
        self.observe(response.headers)

    # --- the limit --------------------------------------------------------------------------
    @property
    def paused_for(self) -> float:
        left = max(0.0, self._paused_until - self._clock())
        if not left:
            metrics.LLM_PAUSED.set(0)
        return left

    def _check_pause(self, max_pause: float | None) -> None:
        if max_pause is not None and (left := self.paused_for) > max_pause:
            raise ModelPaused(left)

    def would_wait(self) -> bool:
        """No slot free now, or the API asked us to hold off."""
        return self._slots.locked() or self.paused_for > 0

    @contextlib.asynccontextmanager
    async def slot(
        self,
        on_wait: Callable[[], Awaitable[None]] | None = None,
        *,
        max_pause: float | None = None,
    ) -> AsyncIterator[None]:
        """Hold one model slot for the block. When the caller has to wait, `on_wait` runs first
        (it tells the thread "queued: waiting for a model slot"); its failure is logged, never
        fatal — the answer matters more than the status line. Raises `ModelPaused` when the
        API's pause outlasts `max_pause` (before or after waiting for the slot)."""
        self._check_pause(max_pause)
        if on_wait is not None and self.would_wait():
            try:
                await on_wait()
            except Exception as exc:
                log.warning("model_gate_wait_notice_failed", error=repr(exc)[:300])
        self.waiting += 1
        metrics.LLM_WAITING.set(self.waiting)
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
            metrics.LLM_WAITING.set(self.waiting)
        self.in_use += 1
        metrics.LLM_IN_FLIGHT.set(self.in_use)
        try:
            self._check_pause(max_pause)
            # A poll, not an Event: `observe` may extend the pause while we sleep.
            while (delay := self.paused_for) > 0:  # noqa: ASYNC110
                await asyncio.sleep(min(delay, 1.0))
            metrics.LLM_PAUSED.set(0)
            yield
        finally:
            self.in_use -= 1
            metrics.LLM_IN_FLIGHT.set(self.in_use)
            self._slots.release()
