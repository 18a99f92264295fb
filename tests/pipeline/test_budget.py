"""The shared model budget against the real Redis: per incident, per hour, per person."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis

from bot.pipeline.budget import Limits, ModelBudget
from bot.store import keys


async def test_llm_budget_per_incident_and_per_hour(redis_client: redis.Redis) -> None:
    budget = ModelBudget(redis_client, Limits(per_incident=2, per_hour=3))
    now = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    taken = [await budget.for_incident("INC-1", now=now) for _ in range(3)]
    assert taken[:2] == [None, None] and "per incident" in (taken[2] or "")
    assert await budget.for_incident("INC-2", now=now) is None
    refused = await budget.for_incident("INC-3", now=now)
    assert refused is not None and "this hour" in refused
    # a refused call took nothing: the hour holds exactly its 3 calls
    assert await redis_client.get(keys.llm_budget_hour("2026113014")) == "3"
    assert await redis_client.get(keys.llm_budget_incident("INC-3")) is None
    next_hour = now + timedelta(hours=1)
    assert await budget.for_incident("INC-3", now=next_hour) is None


async def test_a_human_rerun_is_capped_per_hour_only(redis_client: redis.Redis) -> None:
    budget = ModelBudget(redis_client, Limits(per_incident=1, per_hour=5))
    now = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert await budget.for_incident("INC-1", now=now) is None
    assert await budget.for_incident("INC-1", now=now) is not None
    assert await budget.for_incident("INC-1", requested_by="U1", now=now) is None


async def test_per_user_cap_and_shared_hour(redis_client: redis.Redis) -> None:
    budget = ModelBudget(redis_client, Limits(per_hour=4, per_user_hour=2))
    now = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert [await budget.for_user("U1", now=now) for _ in range(3)][:2] == [None, None]
    refused = await budget.for_user("U1", now=now)
    assert refused is not None and "WIZARD_LLM_MAX_PER_USER_HOUR" in refused
    assert await budget.for_user("U2", now=now) is None
    assert await budget.for_user("U3", now=now) is None
    hour = await budget.for_user("U4", now=now)
    assert hour is not None and "this hour" in hour  # 4 of 4 used by U1 ×2, U2, U3


async def test_replicas_racing_for_the_last_call_get_it_once(redis_client: redis.Redis) -> None:
    budgets = [ModelBudget(redis_client, Limits(per_hour=5)) for _ in range(4)]
    now = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    results = await asyncio.gather(
        *(b.for_incident(f"INC-{i}", now=now) for i, b in enumerate(budgets * 5))
    )
    assert results.count(None) == 5
