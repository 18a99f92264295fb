"""Stage consumers: read jobs from a Redis Stream consumer group, run them, ack them.

There are two stages (`FAST`, `ANALYSIS`: see `bot/pipeline/jobs.py`), each its own stream and
consumer group; a `Worker` is one named consumer of one stage that runs up to `concurrency` jobs
side by side as asyncio tasks. A fast-stage worker runs `WIZARD_WORKERS` jobs at once (they take
milliseconds); the analysis worker takes in up to a few times `WIZARD_LLM_CONCURRENCY` and lets
the model gate (`bot/pipeline/gate.py`) decide how many of them talk to the model at once — a
waiting analysis holds no worker, only a place in the gate's queue.

A job is acked only after it has been fully handled, so a worker that dies leaves it pending;
every worker periodically XAUTOCLAIMs jobs idle longer than `claim_idle_ms` and runs them again.
Handlers are idempotent (see `bot/store/ledger.py`), so a re-run completes the earlier reply
instead of posting a second one. A job that keeps failing is moved to the stage's dead-letter
stream after `max_attempts` and logged loudly, never silently dropped.

While a worker runs a job it renews the job's lease (an XCLAIM to itself, which resets the idle
time) every third of `claim_idle_ms`. Without that, a job slower than `claim_idle_ms` (a slow
model, Slack rate limits) would be taken over by another replica while still running, and both
would answer it; with it, `claim_idle_ms` only has to cover a dead process, so it can be short.
When a Redis outage outlasts `claim_idle_ms`, the lease lapses and, once Redis is back, either the
running worker renews first or another worker claims the job first; the loser learns it from the
renewal and abandons its run, so one worker finishes the job, never two.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
import structlog
from pydantic import ValidationError
from redis.exceptions import ResponseError

from bot import metrics
from bot.pipeline.jobs import ANALYSIS_JOBS, FAST_JOBS, JobBase
from bot.store import keys
from bot.store.ledger import JobLedger
from bot.store.typed import fields as field_map
from bot.store.typed import first_stream_entries, stream_entries, texts

log = structlog.get_logger(__name__)

Handler = Callable[[Any], Coroutine[Any, Any, None]]
"""Takes the stage's job union (`FastJob` or `AnalysisJob`)."""


@dataclass(frozen=True)
class Stage:
    """One durable stage: its stream, consumer group, dead letters and job union."""

    name: str
    stream: str
    group: str
    dead_letter: str
    parse: Callable[[str], JobBase]


FAST = Stage("fast", keys.JOBS_STREAM, keys.JOBS_GROUP, keys.JOBS_DEAD, FAST_JOBS.validate_json)
ANALYSIS = Stage(
    "analysis",
    keys.ANALYSIS_STREAM,
    keys.ANALYSIS_GROUP,
    keys.ANALYSIS_DEAD,
    ANALYSIS_JOBS.validate_json,
)
STAGES = (FAST, ANALYSIS)
DEAD_LETTER = FAST.dead_letter

HEARTBEAT_EVERY_S = 5.0

_RENEW = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #held == 0 then
  return 0
end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""
"""Reset the idle time of entry ARGV[2] if consumer ARGV[3] still holds it (atomic, so a worker
never takes back a job another worker has already claimed)."""


async def ensure_group(client: redis.Redis) -> None:
    """Create every stage's consumer group (and stream) once; harmless when they exist."""
    for stage in STAGES:
        try:
            await client.xgroup_create(stage.stream, stage.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def queue_idle(client: redis.Redis) -> bool:
    """Nothing waiting and nothing pending in any stage (what tests and benches wait for)."""
    for stage in STAGES:
        groups = await client.xinfo_groups(stage.stream)
        group = next((g for g in groups if g["name"] == stage.group), None)
        if group is None or group["pending"] or group.get("lag"):
            return False
    return True


class Worker:
    """One consumer of one stage; run one per stage per process, or several processes."""

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        handler: Handler,
        *,
        stage: Stage = FAST,
        concurrency: int = 1,
        claim_idle_ms: int = 60_000,
        claim_every_s: float = 5.0,
        block_ms: int = 1_000,
        max_attempts: int = 3,
    ) -> None:
        self.redis = client
        self.name = name
        self.handler = handler
        self.stage = stage
        self.concurrency = max(1, concurrency)
        self.ledger = JobLedger(client)
        self.claim_idle_ms = claim_idle_ms
        self.claim_every_s = claim_every_s
        self.block_ms = block_ms
        self.max_attempts = max_attempts
        self.processed = 0
        self._renew = client.register_script(_RENEW)
        self._last_claim = 0.0
        self._last_beat = 0.0
        self._stopping = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._entries: set[str] = set()
        """Stream entries this worker is running now: XAUTOCLAIM hands a consumer back its own
        entries too (a Redis outage can outlast the lease), and those must not run twice."""

    def stop(self) -> None:
        self._stopping.set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def run(self) -> None:
        """Loop until stopped, then let the jobs in hand finish; survives Redis restarts by
        backing off and retrying. Cancelling `run` cancels the jobs in hand (they stay pending
        and are reclaimed), which is what a killed process looks like."""
        log.info("worker_started", worker=self.name, stage=self.stage.name)
        try:
            while not self._stopping.is_set():
                try:
                    await self._step()
                except asyncio.CancelledError:
                    raise
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        log.exception("worker_loop_error", worker=self.name)
                        await asyncio.sleep(0.5)
                        continue
                    # the stream or group is gone (a Redis that lost its data): recreate, go on
                    log.warning("worker_group_missing", worker=self.name)
                    await ensure_group(self.redis)
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    log.warning("worker_redis_unavailable", worker=self.name, error=str(exc))
                    await asyncio.sleep(0.5)
                except Exception:
                    log.exception("worker_loop_error", worker=self.name)
                    await asyncio.sleep(0.5)
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
        finally:
            for task in list(self._running):
                task.cancel()
        log.info("worker_stopped", worker=self.name)

    async def _step(self) -> None:
        await self._heartbeat()
        free = self.concurrency - len(self._running)
        if free <= 0:
            await asyncio.wait(
                self._running, timeout=self.block_ms / 1000, return_when=asyncio.FIRST_COMPLETED
            )
            return
        entries = await self._reclaim(free)
        if not entries:
            entries = await self._read(free)
        for entry_id, fields in entries:
            if entry_id in self._entries:
                continue  # our own job, still running: the claim just renewed its lease
            self._entries.add(entry_id)
            task = asyncio.create_task(self._run_one(entry_id, fields), name=f"{self.name}-job")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(functools.partial(self._forget, entry_id))

    def _forget(self, entry_id: str, _: asyncio.Task[None]) -> None:
        self._entries.discard(entry_id)

    async def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_EVERY_S:
            await self.redis.set(keys.worker(self.name), str(time.time()), ex=30)
            self._last_beat = now

    async def _read(self, count: int) -> list[tuple[str, dict[str, str]]]:
        response = await self.redis.xreadgroup(
            self.stage.group,
            self.name,
            {self.stage.stream: ">"},
            count=count,
            block=self.block_ms,
        )
        return first_stream_entries(response)

    async def _reclaim(self, count: int) -> list[tuple[str, dict[str, str]]]:
        now = time.monotonic()
        if now - self._last_claim < self.claim_every_s:
            return []
        self._last_claim = now
        result = await self.redis.xautoclaim(
            self.stage.stream,
            self.stage.group,
            self.name,
            self.claim_idle_ms,
            "0-0",
            count=min(count, 10),
        )
        claimed = [(entry_id, fields) for entry_id, fields in stream_entries(result[1]) if fields]
        deleted = texts(result[2]) if len(result) > 2 else []
        for entry_id in deleted:
            await self.redis.xack(self.stage.stream, self.stage.group, entry_id)
        if claimed:
            log.warning(
                "jobs_reclaimed", worker=self.name, stage=self.stage.name, count=len(claimed)
            )
        return claimed

    async def _run_one(self, entry_id: str, fields: dict[str, str]) -> None:
        stage = self.stage
        try:
            job = stage.parse(fields.get("job", ""))
        except ValidationError as exc:
            log.error("job_unreadable", entry_id=entry_id, stage=stage.name, error=str(exc)[:500])
            metrics.JOBS.labels("unknown", "unreadable").inc()
            await self._dead_letter(entry_id, fields, "unreadable")
            return
        kind = str(getattr(job, "kind", "unknown"))
        bound = log.bind(
            worker=self.name, stage=stage.name, job_id=job.id, kind=kind, event_id=job.event_id
        )
        done, attempts = await self.ledger.begin(job.id)
        if done:
            bound.info("job_already_done")
            await self.redis.xack(stage.stream, stage.group, entry_id)
            return
        if attempts > self.max_attempts:
            bound.error("job_gave_up", attempts=attempts)
            metrics.JOBS.labels(kind, "dead_letter").inc()
            await self._dead_letter(entry_id, fields, "too_many_attempts")
            return
        started = time.perf_counter()
        work = asyncio.create_task(self.handler(job), name=f"{self.name}-work")
        lease = asyncio.create_task(self._keep_lease(entry_id, job.id, work))
        try:
            await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lease.done() and not lease.cancelled() and current and not current.cancelling():
                bound.warning("job_abandoned", reason="lease_lost", attempts=attempts)
                metrics.JOBS.labels(kind, "abandoned").inc()
                return  # another worker holds the job now and finishes it
            work.cancel()
            raise
        except Exception:
            bound.exception("job_failed", attempts=attempts)
            metrics.JOBS.labels(kind, "failed").inc()
            return  # left pending: reclaimed and retried after claim_idle_ms
        finally:
            lease.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease
        await self.ledger.finish(job.id, stage.stream, stage.group, entry_id)
        self.processed += 1
        metrics.JOBS.labels(kind, "done").inc()
        bound.info("job_done", ms=round((time.perf_counter() - started) * 1000, 1))

    async def _keep_lease(self, entry_id: str, job_id: str, work: asyncio.Task[None]) -> None:
        """Renew the running job's lease until cancelled. A failed renewal is retried (a Redis
        blip must not cost the lease); a lost lease (another worker claimed the job) cancels
        `work` and returns, which is how `_run_one` tells it from a shutdown."""
        interval = max(0.05, self.claim_idle_ms / 3000)
        while True:
            await asyncio.sleep(interval)
            try:
                held = await self._renew(
                    keys=[self.stage.stream], args=[self.stage.group, entry_id, self.name]
                )
            except (redis.RedisError, OSError) as exc:
                log.warning(
                    "job_lease_renew_failed", worker=self.name, job_id=job_id, error=str(exc)
                )
                continue
            if not held:
                log.error("job_lease_lost", worker=self.name, job_id=job_id, entry_id=entry_id)
                work.cancel()
                return

    async def _dead_letter(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        entry = field_map({**fields, "reason": reason, "entry_id": entry_id})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.stage.dead_letter, entry)
            pipe.xack(self.stage.stream, self.stage.group, entry_id)
            await pipe.execute()


class WorkerPool:
    """The workers of this process (both stages) as asyncio tasks, with a liveness check."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(w.run(), name=w.name) for w in self.workers]

    @property
    def alive(self) -> bool:
        """Every worker task running; an intake-only process (no workers) is alive as such."""
        if not self.workers:
            return True
        return bool(self.tasks) and all(not t.done() for t in self.tasks)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Ask workers to finish the jobs in hand, then cancel what is left."""
        for worker in self.workers:
            worker.stop()
        if not self.tasks:
            return
        _, pending = await asyncio.wait(self.tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
