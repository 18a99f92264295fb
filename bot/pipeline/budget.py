"""The model budget, shared by every replica through Redis: per incident, per hour, per person.

Every model call draws from the hourly budget (`WIZARD_LLM_MAX_PER_HOUR`): an incident's
automatic analyses also from its own (`WIZARD_LLM_MAX_PER_INCIDENT`; a human's "Re-run" is not
capped per incident), follow-ups and `/wizard` questions also from the asker's hourly cap
(`WIZARD_LLM_MAX_PER_USER_HOUR`), so one person cannot spend the team's budget at market open.
A check and its take are one Lua script: replicas racing for the last call cannot both get it,
and a refused call takes nothing. Past a budget the runbook answer is given, saying which budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as redis
import structlog

from bot.store import keys

log = structlog.get_logger(__name__)

INCIDENT_TTL_S = 7 * 24 * 3600
HOUR_TTL_S = 7200

_TAKE = """
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then
    return i
  end
end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
end
return 0
"""
"""Take one call from every counter in KEYS (cap ARGV[2i-1], ttl ARGV[2i]) or from none;
returns 0, or the 1-based index of the first counter already at its cap."""


@dataclass(frozen=True)
class Limits:
    per_incident: int = 3
    per_hour: int = 60
    per_user_hour: int = 20


class ModelBudget:
    """Reserve one model call, or say which budget is spent."""

    def __init__(self, client: redis.Redis, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._take = client.register_script(_TAKE)

    async def _reserve(self, counters: list[tuple[str, int, int, str]]) -> str | None:
        args: list[int] = []
        for _key, cap, ttl, _why in counters:
            args += [cap, ttl]
        refused = int(await self._take(keys=[c[0] for c in counters], args=args))
        if not refused:
            return None
        reason = counters[refused - 1][3]
        log.warning("llm_budget_exhausted", reason=reason)
        return reason

    def _hour(self, now: datetime | None) -> tuple[str, tuple[str, int, int, str]]:
        bucket = (now or datetime.now(UTC)).strftime("%Y%m%d%H")
        per_hour = self.limits.per_hour
        return bucket, (
            keys.llm_budget_hour(bucket),
            per_hour,
            HOUR_TTL_S,
            f"LLM budget: {per_hour} model calls this hour already used",
        )

    async def for_incident(
        self, incident_id: str, *, requested_by: str | None = None, now: datetime | None = None
    ) -> str | None:
        """An incident analysis; None when granted, else why not."""
        _, hour = self._hour(now)
        counters = [hour]
        if requested_by is None:
            cap = self.limits.per_incident
            counters.insert(
                0,
                (
                    keys.llm_budget_incident(incident_id),
                    cap,
                    INCIDENT_TTL_S,
                    f"LLM budget: {cap} analyses per incident already used",
                ),
            )
        return await self._reserve(counters)

    async def for_user(self, user: str | None, *, now: datetime | None = None) -> str | None:
        """A follow-up or question asked by `user`; None when granted, else why not."""
        bucket, hour = self._hour(now)
        counters = [hour]
        if user:
            cap = self.limits.per_user_hour
            counters.append(
                (
                    keys.llm_budget_user(user, bucket),
                    cap,
                    HOUR_TTL_S,
                    f"LLM budget: you have had {cap} model answers this hour "
                    "(WIZARD_LLM_MAX_PER_USER_HOUR)",
                )
            )
        return await self._reserve(counters)
