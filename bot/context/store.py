"""The context store: what the bot remembers in Redis about alerts, deploys, answers and threads.

The wizard is only as good as the facts it is given. This module records every alert seen (from
channel posts and the Alertmanager webhook), every deploy CI reports, every answer given and every
thread turn, and assembles them into one `Context` for a new alert. Key names come from
`bot/store/keys.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
from pydantic import BaseModel, Field

from bot.models import Alert, AlertRecord, Context, Deploy, PastAnswer
from bot.store import keys
from bot.store.typed import ParseCache, texts

ALERT_TTL_S = 30 * 24 * 3600
THREAD_TTL_S = 30 * 24 * 3600
RECENT_WINDOW_S = 7 * 24 * 3600
RELATED_WINDOW_S = 6 * 3600
MAX_DEPLOYS = 100
MAX_ANSWERS = 20
MAX_TURNS = 50


class Turn(BaseModel):
    """One exchange in a thread: who said what, kept as thread memory."""

    role: str  # "user" or "wizard"
    text: str
    user: str | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class ThreadInfo(BaseModel):
    """What a thread the bot answered is about, so follow-ups get the right context."""

    channel: str
    thread_ts: str
    kind: str  # "alert" | "question" | "assistant" (a pane thread not yet asked anything)
    fingerprint: str | None = None
    alert: Alert | None = None
    job_id: str | None = None
    incident_id: str | None = None
    source: str = "channel"
    """Where the conversation is: "channel", "dm" or "assistant" (the pane)."""


def _score(at: datetime) -> float:
    return at.timestamp()


class ContextStore:
    """Reads and writes the bot's memory. All methods are single round-trips or pipelines."""

    def __init__(self, client: redis.Redis, deploy_window: timedelta = timedelta(hours=24)):
        self.redis = client
        self.deploy_window = deploy_window
        self._shared = ParseCache(AlertRecord, 1024)

    # --- alerts -----------------------------------------------------------------------------
    async def record_alert(
        self,
        alert: Alert,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
        now: datetime | None = None,
    ) -> AlertRecord:
        """Upsert the alert's state; keeps first_seen and counts occurrences."""
        records = await self.record_alerts([alert], channel=channel, thread_ts=thread_ts, now=now)
        return records[0]

    async def record_alerts(
        self,
        alerts: list[Alert],
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
        now: datetime | None = None,
    ) -> list[AlertRecord]:
        """Upsert several alerts' state in two round trips (one MGET, one transaction): a job
        records its whole group at once."""
        if not alerts:
            return []
        now = now or datetime.now(UTC)
        raws = await self.redis.mget([keys.alert(a.fingerprint) for a in alerts])
        score = _score(now)
        records: list[AlertRecord] = []
        known: dict[str, AlertRecord] = {}
        async with self.redis.pipeline(transaction=True) as pipe:
            for alert, raw in zip(alerts, raws, strict=True):
                previous = known.get(alert.fingerprint) or (
                    AlertRecord.model_validate_json(raw) if raw else None
                )
                if previous is not None:
                    record = previous.model_copy(
                        update={
                            "alert": alert,
                            "last_seen": now,
                            "occurrences": previous.occurrences + 1,
                            "channel": channel or previous.channel,
                            "thread_ts": thread_ts or previous.thread_ts,
                        }
                    )
                else:
                    record = AlertRecord(
                        alert=alert,
                        first_seen=alert.starts_at or now,
                        last_seen=now,
                        channel=channel,
                        thread_ts=thread_ts,
                    )
                known[alert.fingerprint] = record
                records.append(record)
                pipe.set(keys.alert(alert.fingerprint), record.model_dump_json(), ex=ALERT_TTL_S)
                if alert.status == "firing":
                    pipe.zadd(keys.ALERTS_OPEN, {alert.fingerprint: score})
                else:
                    pipe.zrem(keys.ALERTS_OPEN, alert.fingerprint)
                pipe.zadd(keys.ALERTS_RECENT, {alert.fingerprint: score})
                if alert.service:
                    svc_key = keys.alerts_by_service(alert.service)
                    pipe.zadd(svc_key, {alert.fingerprint: score})
                    pipe.zremrangebyscore(svc_key, 0, score - RECENT_WINDOW_S)
                    pipe.expire(svc_key, RECENT_WINDOW_S)
            pipe.zremrangebyscore(keys.ALERTS_RECENT, 0, score - RECENT_WINDOW_S)
            await pipe.execute()
        return records

    async def place_alert(self, fingerprint: str, channel: str, thread_ts: str) -> None:
        """Note where an alert's thread is once it exists (a webhook incident's root is posted
        after its alerts were recorded); not another occurrence."""
        record = await self.get_alert(fingerprint)
        if record is not None and record.thread_ts != thread_ts:
            placed = record.model_copy(update={"channel": channel, "thread_ts": thread_ts})
            await self.redis.set(keys.alert(fingerprint), placed.model_dump_json(), ex=ALERT_TTL_S)

    async def get_alert(self, fingerprint: str) -> AlertRecord | None:
        raw = await self.redis.get(keys.alert(fingerprint))
        return AlertRecord.model_validate_json(raw) if raw else None

    async def alerts_by_fingerprint(self, fingerprints: list[str]) -> dict[str, AlertRecord]:
        """Many alerts' records in one round trip, shared read-only copies (`ParseCache`):
        matching reads every candidate incident's alerts for each Slack post."""
        if not fingerprints:
            return {}
        raws = await self.redis.mget([keys.alert(fp) for fp in fingerprints])
        records = [self._shared.parse(raw) for raw in raws if raw]
        return {r.alert.fingerprint: r for r in records}

    async def _records(self, fingerprints: list[str]) -> list[AlertRecord]:
        if not fingerprints:
            return []
        raws = await self.redis.mget([keys.alert(fp) for fp in fingerprints])
        return [AlertRecord.model_validate_json(raw) for raw in raws if raw]

    async def open_alerts(self, limit: int = 50) -> list[AlertRecord]:
        """Currently firing alerts, most recently seen first."""
        fingerprints = texts(await self.redis.zrevrange(keys.ALERTS_OPEN, 0, limit - 1))
        records = await self._records(fingerprints)
        return [r for r in records if r.alert.status == "firing"]

    async def related(self, alert: Alert, limit: int = 10) -> list[AlertRecord]:
        """Other alerts on the same service, or recently seen anywhere, in the last hours."""
        now = datetime.now(UTC).timestamp()
        source_key = keys.alerts_by_service(alert.service) if alert.service else keys.ALERTS_RECENT
        fingerprints = texts(
            await self.redis.zrevrangebyscore(
                source_key, "+inf", now - RELATED_WINDOW_S, start=0, num=limit + 1
            )
        )
        others = [fp for fp in fingerprints if fp != alert.fingerprint][:limit]
        return await self._records(others)

    # --- deploys ----------------------------------------------------------------------------
    async def record_deploy(self, deploy: Deploy) -> None:
        key = keys.deploys(deploy.service)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {deploy.model_dump_json(): _score(deploy.at)})
            pipe.zremrangebyrank(key, 0, -(MAX_DEPLOYS + 1))
            await pipe.execute()

    async def deploys_for(self, service: str, since: datetime | None = None) -> list[Deploy]:
        """Deploys of `service` since `since`, newest first."""
        floor = _score(since) if since else "-inf"
        raws = texts(await self.redis.zrevrangebyscore(keys.deploys(service), "+inf", floor))
        return [Deploy.model_validate_json(raw) for raw in raws]

    # --- answers and threads ----------------------------------------------------------------
    async def record_answer(self, fingerprint: str, answer: PastAnswer) -> None:
        key = keys.answers(fingerprint)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, answer.model_dump_json())
            pipe.ltrim(key, 0, MAX_ANSWERS - 1)
            pipe.expire(key, 90 * 24 * 3600)
            await pipe.execute()

    async def past_answers(self, fingerprint: str, limit: int = 5) -> list[PastAnswer]:
        raws = await self.redis.lrange(keys.answers(fingerprint), 0, limit - 1)
        return [PastAnswer.model_validate_json(raw) for raw in raws]

    async def set_thread(self, info: ThreadInfo) -> None:
        await self.redis.set(
            keys.thread(info.channel, info.thread_ts), info.model_dump_json(), ex=THREAD_TTL_S
        )

    async def get_thread(self, channel: str, thread_ts: str) -> ThreadInfo | None:
        raw = await self.redis.get(keys.thread(channel, thread_ts))
        return ThreadInfo.model_validate_json(raw) if raw else None

    async def add_turn(self, channel: str, thread_ts: str, turn: Turn) -> None:
        key = keys.turns(channel, thread_ts)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, turn.model_dump_json())
            pipe.ltrim(key, -MAX_TURNS, -1)
            pipe.expire(key, THREAD_TTL_S)
            await pipe.execute()

    async def turns(self, channel: str, thread_ts: str) -> list[Turn]:
        raws = await self.redis.lrange(keys.turns(channel, thread_ts), 0, -1)
        return [Turn.model_validate_json(raw) for raw in raws]

    # --- assembly ---------------------------------------------------------------------------
    async def build_context(self, alert: Alert, group: list[Alert] | None = None) -> Context:
        """Everything relevant to `alert`: its record, deploys, related alerts, past answers."""
        since = (alert.starts_at or datetime.now(UTC)) - self.deploy_window
        deploys = await self.deploys_for(alert.service, since) if alert.service else []
        return Context(
            alert=alert,
            group=[a for a in (group or []) if a.fingerprint != alert.fingerprint],
            record=await self.get_alert(alert.fingerprint),
            deploys=deploys,
            related=await self.related(alert),
            past_answers=await self.past_answers(alert.fingerprint),
        )
