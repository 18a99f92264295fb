"""The queue of incident summaries waiting for a `chat.update`, and the budget all replicas share.

Slack allows `chat.update` roughly 50 times a minute per workspace (Tier 3) and answers 429 above
it. The budget is a token bucket in Redis, not in each process, so two or ten replicas together
stay under it; it refills by Redis `TIME`, so every replica reads one clock. A 429 pauses the
bucket for every replica until Slack's `Retry-After` has passed.

In a storm every alert changes its incident's counts, and updating a card on each would spend the
whole budget on intermediate states. So a dirty summary is *debounced*: it is due once its incident
has had no new alert for `quiet_s`, no sooner than `interval_s` after its last update and no later
than `3 × interval_s` after it first became dirty — a card in a storm that never pauses still
moves. Each step is one Lua script (one round trip, atomic across replicas).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis.asyncio as redis

from bot.store import keys
from bot.store.typed import text_or_none, texts

_NOW = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS: dirty zset, rendered hash, first-dirty hash. ARGV: id, interval, quiet, now ('' = TIME).
_MARK = _NOW + """
local now = ARGV[4] ~= '' and tonumber(ARGV[4]) or now_s()
local interval, quiet = tonumber(ARGV[2]), tonumber(ARGV[3])
local first = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if not first then
  first = now
  redis.call('HSET', KEYS[3], ARGV[1], tostring(now))
end
local earliest = now
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
if last then earliest = math.max(earliest, last + interval) end
local due = math.max(earliest, math.min(now + quiet, first + 3 * interval))
redis.call('ZADD', KEYS[1], due, ARGV[1])
return tostring(due)
"""

# KEYS: dirty zset, first-dirty hash, bucket hash.
# ARGV: limit, per-minute, capacity, now ('' = TIME).
# Returns the claimed ids; ZREM inside the script makes each claim unique across replicas.
_CLAIM = _NOW + """
local clock = now_s()
local now = ARGV[4] ~= '' and tonumber(ARGV[4]) or clock
local rate, capacity = tonumber(ARGV[2]) / 60, tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[3], 'tokens', 'ts', 'paused_until')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or clock
tokens = math.min(capacity, tokens + math.max(0, clock - ts) * rate)
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens), 'ts', tostring(clock))
redis.call('EXPIRE', KEYS[3], 3600)
if clock < (tonumber(b[3]) or 0) then return {} end
local n = math.min(tonumber(ARGV[1]), math.floor(tokens))
if n < 1 then return {} end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, n)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - #ids))
return ids
"""

# KEYS: bucket hash. ARGV: seconds. Pauses every replica's updates until now + seconds.
_PAUSE = _NOW + """
local until_s = now_s() + tonumber(ARGV[1])
local old = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if until_s > old then redis.call('HSET', KEYS[1], 'paused_until', tostring(until_s)) end
return tostring(math.max(until_s, old))
"""


def rendering_digest(blocks: list[dict[str, Any]], text: str) -> str:
    """What a summary message shows, as a hash: an update that would change nothing is skipped."""
    body = json.dumps([blocks, text], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class SummaryQueue:
    """Dirty summaries, their debounce, and the shared `chat.update` budget."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        interval_s: float = 5.0,
        quiet_s: float = 0.0,
        per_minute: int = 40,
    ) -> None:
        self.redis = client
        self.interval_s = interval_s
        self.quiet_s = quiet_s
        self.per_minute = per_minute
        self.capacity = max(per_minute // 2, 1)
        """Burst size: half a minute's budget (Tier 3 "supports occasional bursts"), so a storm's
        20 cards reach their final state together once it calms; a quiet hour's tokens do not
        pile up into a burst Slack would refuse."""
        self._mark = client.register_script(_MARK)
        self._claim = client.register_script(_CLAIM)
        self._pause = client.register_script(_PAUSE)

    @staticmethod
    def _now(now: float | None) -> str:
        return "" if now is None else repr(now)

    async def mark_dirty(self, incident_id: str, now: float | None = None) -> float:
        """Ask for an update of this incident's summary; returns when it is due (epoch s)."""
        keys_ = [keys.INCIDENTS_DIRTY, keys.INCIDENTS_RENDERED, keys.INCIDENTS_DIRTY_SINCE]
        args: list[str | float] = [incident_id, self.interval_s, self.quiet_s, self._now(now)]
        return float(text_or_none(await self._mark(keys=keys_, args=args)) or 0.0)

    async def claim_due(self, limit: int, now: float | None = None) -> list[str]:
        """Take up to `limit` due summaries the shared budget affords, spending a token each."""
        keys_ = [keys.INCIDENTS_DIRTY, keys.INCIDENTS_DIRTY_SINCE, keys.SUMMARY_BUCKET]
        args: list[str | int] = [limit, self.per_minute, self.capacity, self._now(now)]
        return texts(await self._claim(keys=keys_, args=args))

    async def refund(self, count: int = 1) -> None:
        """A claimed summary needed no update (unchanged or gone): its token goes back."""
        if count > 0:
            await self.redis.hincrbyfloat(keys.SUMMARY_BUCKET, "tokens", count)

    async def pause(self, seconds: float) -> float:
        """Slack said 429: no replica updates a summary for `seconds` (returns the epoch end)."""
        return float(
            text_or_none(await self._pause(keys=[keys.SUMMARY_BUCKET], args=[seconds])) or 0
        )

    async def on_slack_limit(self, method: str, seconds: float) -> None:
        """Slack answered 429 to `method`: a `chat.update` limit pauses this budget everywhere."""
        if method == "chat.update":
            await self.pause(seconds)

    async def rendered(self, incident_id: str, when: float, digest: str | None = None) -> None:
        """The summary now shows this state (`digest` of what was sent, to skip no-op updates)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.INCIDENTS_RENDERED, incident_id, repr(when))
            if digest is not None:
                pipe.hset(keys.INCIDENTS_RENDERED_DIGEST, incident_id, digest)
            await pipe.execute()

    async def shows(self, incident_id: str, digest: str) -> bool:
        """True when the summary in Slack already shows exactly this rendering."""
        stored = await self.redis.hget(keys.INCIDENTS_RENDERED_DIGEST, incident_id)
        return text_or_none(stored) == digest

    async def pending(self) -> int:
        return int(await self.redis.zcard(keys.INCIDENTS_DIRTY))
