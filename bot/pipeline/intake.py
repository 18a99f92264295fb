"""Intake: dedup and enqueue, atomically, then let the caller ack.

Slack retries an event it did not see acked within 3 s and sometimes delivers one twice; a mention
in a thread arrives both as `message` and `app_mention`. One Lua script checks every dedup key
(`event_id`, `(channel, ts)`, webhook body hash), sets them with a TTL and XADDs the job — in one
atomic step, so a crash between "marked seen" and "queued" cannot lose an alert.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import redis.asyncio as redis
import structlog
from redis.exceptions import OutOfMemoryError

from bot import metrics
from bot.door import Door
from bot.pipeline.jobs import AnalysisJob, Job
from bot.store import keys
from bot.store.batch import ScriptBatcher

log = structlog.get_logger(__name__)

REDIS_FULL = (
    "Redis is full (maxmemory reached, noeviction): the event was refused so its sender retries;"
    " raise WIZARD_REDIS_MAXMEMORY (or the server's maxmemory) or free memory"
)
DEDUP_TTL_S = 24 * 3600


class RedisFull(RuntimeError):
    """Redis refused a write with OOM: nothing was queued (the sender must retry)."""


HOOK_DEDUP_TTL_S = 600
STREAM_MAXLEN = 100_000

_ENQUEUE = """
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return false
  end
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[3], 'EX', tonumber(ARGV[1]))
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'job', ARGV[2])
"""


class Intake:
    """The only writer of the stage streams: fast jobs from Slack and the hooks, analyses
    from fast jobs."""

    def __init__(self, client: redis.Redis, door: Door | None = None) -> None:
        self.redis = client
        self.door = door or Door()
        self._script = ScriptBatcher(client, _ENQUEUE)  # a burst's events share round trips

    async def enqueue(
        self,
        job: Job,
        dedup_keys: list[str],
        ttl_s: int = DEDUP_TTL_S,
        stream: str = keys.JOBS_STREAM,
        *,
        scrub: bool = True,
    ) -> bool:
        """Queue `job` unless any dedup key was seen; True when queued.

        The job's outside text is scrubbed by the door first: the stream (and the AOF) never
        holds the raw event. (An analysis is made from a fast job's already scrubbed fields:
        `scrub=False`.)"""
        if scrub:
            fields = await self.door.job_fields(job.model_dump(mode="json"))
            job = type(job).model_validate(fields)
        try:
            stream_id = await self._script(
                keys=[stream, *dedup_keys],
                args=[ttl_s, job.model_dump_json(), job.id, STREAM_MAXLEN],
            )
        except OutOfMemoryError as exc:
            metrics.REDIS_OOM.labels("intake").inc()
            log.error(
                "redis_out_of_memory", job_id=job.id, kind=getattr(job, "kind", None),
                hint=REDIS_FULL,
            )  # fmt: skip
            raise RedisFull(REDIS_FULL) from exc
        queued = stream_id is not None
        metrics.EVENTS.labels(
            str(getattr(job, "kind", "unknown")), "queued" if queued else "duplicate"
        ).inc()
        log.info(
            "job_enqueued" if queued else "job_duplicate",
            job_id=job.id,
            kind=getattr(job, "kind", None),
            stage="fast" if stream == keys.JOBS_STREAM else "analysis",
            event_id=job.event_id,
            stream_id=stream_id,
        )
        return queued

    async def submit_slack(self, job: Job) -> bool:
        """Dedup a Slack-caused job on its event id and on (channel, ts)."""
        dedup = []
        if job.event_id:
            dedup.append(keys.dedup_event(job.event_id))
        channel, ts = getattr(job, "channel", None), getattr(job, "ts", None)
        if channel and ts:
            dedup.append(keys.dedup_message(channel, ts))
        return await self.enqueue(job, dedup)

    async def submit_analysis(self, job: AnalysisJob) -> bool:
        """Queue an analysis for the analysis stage, once per analysis id (a reclaimed fast
        job that asks again finds it queued, or done)."""
        return await self.enqueue(
            job, [keys.dedup_analysis(job.id)], stream=keys.ANALYSIS_STREAM, scrub=False
        )

    async def submit_webhook(
        self,
        job: Job,
        body: bytes,
        *,
        delivery: str | None = None,
        window_s: int = HOOK_DEDUP_TTL_S,
    ) -> bool:
        """Dedup a webhook re-delivery for `window_s`: on `delivery` (one notification's identity,
        `bot.alerts.deliveries`) when given, else on the exact body. Later repeats are queued."""
        digest = delivery or hashlib.sha256(body).hexdigest()
        return await self.enqueue(job, [keys.dedup_hook(digest)], ttl_s=window_s)


def webhook_job_id(body: bytes, received_at: datetime | None = None) -> str:
    """One job per delivery: a repeat (same body, later) is a new job, never "already done"."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    if received_at is None:
        return "hook:" + digest
    return f"hook:{digest}:{int(received_at.timestamp() * 1000)}"
