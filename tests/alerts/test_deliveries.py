"""Alertmanager deliveries: re-deliveries count once, repeats count every time (real Redis)."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from bot.alerts.deliveries import delivery_id
from bot.pipeline.intake import Intake, webhook_job_id
from bot.pipeline.jobs import WebhookJob
from bot.store import keys

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager"


def body() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURE / "webhook_firing_grouped.json").read_text())
    return loaded


def test_delivery_identity() -> None:
    one = body()
    raw = json.dumps(one).encode()
    assert delivery_id(one, raw) == delivery_id(json.loads(raw), raw)
    reordered = copy.deepcopy(one)
    reordered["alerts"].reverse()
    assert delivery_id(reordered, b"other bytes") == delivery_id(one, raw)
    resolved = copy.deepcopy(one)
    resolved["alerts"][0]["status"] = "resolved"
    assert delivery_id(resolved, raw) != delivery_id(one, raw)
    restarted = copy.deepcopy(one)
    restarted["alerts"][1]["startsAt"] = "2026-12-02T07:00:00Z"
    assert delivery_id(restarted, raw) != delivery_id(one, raw)
    # not Alertmanager's shape: the exact body decides
    assert delivery_id({"alerts": [{}]}, b"a") != delivery_id({"alerts": [{}]}, b"b")


def test_each_delivery_is_its_own_job() -> None:
    """The worker marks a job id done for days: a repeat must not reuse the first one's id."""
    raw = json.dumps(body()).encode()
    now = datetime.now(UTC)
    assert webhook_job_id(raw, now) != webhook_job_id(raw, now + timedelta(seconds=10))
    assert webhook_job_id(raw, now).startswith("hook:")


async def test_redelivery_counts_once_then_repeat_is_queued(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client)
    raw = json.dumps(body()).encode()
    delivery = delivery_id(body(), raw)

    def job(n: int) -> WebhookJob:
        return WebhookJob(id=f"hook:{n}")

    assert await intake.submit_webhook(job(1), raw, delivery=delivery, window_s=1)
    assert not await intake.submit_webhook(job(2), raw, delivery=delivery, window_s=1)
    deadline = time.monotonic() + 5
    while await redis_client.exists(keys.dedup_hook(delivery)):
        assert time.monotonic() < deadline, "re-delivery window never closed"
        await asyncio.sleep(0.05)
    assert await intake.submit_webhook(job(3), raw, delivery=delivery, window_s=1)
    assert await redis_client.xlen(keys.JOBS_STREAM) == 2
