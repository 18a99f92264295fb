"""`/metrics` and `/readyz` report what the bot did, through the real HTTP server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.devtools.slack import SlackSandbox
from bot.pipeline.worker import Worker
from bot.store.embedded import EmbeddedRedis
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import Bot, settings_for, start_bot, stop_bot

PAYLOADS = Path(__file__).resolve().parents[1] / "bot" / "demo" / "payloads"


async def _scrape(bot: Bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with bot.session.get(f"{bot.base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _get(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_events_llm_fallbacks_and_replies(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    bot = await start_bot(
        settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=llm),
        sandbox,
    )
    try:
        before = await _scrape(bot)
        message = json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
        posted = sandbox.inject_message("C0ALERTS", message)
        await bot.event(posted, event_id="EvM1")
        await bot.event(posted, event_id="EvM1", retry=1)
        await bot.drain()
        llm.fail(529)
        await bot.post_alert(json.loads((PAYLOADS / "04_datadog_slack.json").read_text()))
        await bot.drain()
        llm.reset()
        sandbox.fail_next("chat.postMessage", status=429, retry_after=0)
        await bot.post_alert(json.loads((PAYLOADS / "03_grafana_slack.json").read_text()))
        await bot.settle()  # jobs, then the coalesced summary updates
        after = await _scrape(bot)

        def delta(name: str, **labels: str) -> float:
            return _get(after, name, **labels) - _get(before, name, **labels)

        assert delta("wizard_events_total", kind="alert", outcome="queued") == 3
        assert delta("wizard_events_total", kind="alert", outcome="duplicate") == 1
        assert delta("wizard_jobs_total", kind="alert", outcome="done") == 3
        assert delta("wizard_llm_calls_total", outcome="ok") == 2
        assert delta("wizard_llm_calls_total", outcome="http_529") == 1
        assert delta("wizard_fallbacks_total", cause="http_529") == 1
        assert delta("wizard_llm_tokens_total", type="input") > 0
        assert delta("wizard_llm_cost_usd_total") > 0
        # per incident: the summary card and the analysis (first screen and full plan)
        assert delta("wizard_replies_total", action="posted") == 9
        assert delta("wizard_replies_total", action="updated") >= 3
        assert delta("wizard_slack_rate_limited_total") == 1
        assert _get(after, "wizard_queue_pending") == 0
        async with bot.session.get(f"{bot.base}/readyz") as response:
            assert response.status == 200
            assert await response.json() == {"workers": True, "redis": True, "queue_moving": True}
    finally:
        llm.reset()
        await stop_bot(bot)


async def test_readyz_fails_when_workers_are_dead(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    bot = await start_bot(
        settings_for(sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=None),
        sandbox,
    )
    try:
        for task in bot.runtime.pool.tasks:
            task.cancel()
        await asyncio.gather(*bot.runtime.pool.tasks, return_exceptions=True)
        async with bot.session.get(f"{bot.base}/readyz") as response:
            assert response.status == 503
            assert (await response.json())["workers"] is False
        async with bot.session.get(f"{bot.base}/healthz") as response:
            assert response.status == 503
        assert isinstance(bot.runtime.pool.workers[0], Worker)
    finally:
        await stop_bot(bot)


async def test_metrics_show_the_analysis_stage_while_analyses_are_queued(
    sandbox: SlackSandbox, llm: FakeAnthropic, redis_server: EmbeddedRedis, redis_client, tmp_path
) -> None:
    """Three new incidents, one model slot, a model that does not answer yet: the analysis
    worker holds two analyses (it takes in twice the gate's slots), the third waits in the
    stream, and the fast stage is empty; /metrics must show both stages apart."""
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=llm,
        deadline_s=30.0,  # no fallback while the test looks
        WIZARD_LLM_CONCURRENCY=1,
    )
    bot = await start_bot(settings, sandbox)
    llm.hang()
    try:
        before = await _scrape(bot)
        for payload in (
            "02_alertmanager_slack.json",
            "03_grafana_slack.json",
            "04_datadog_slack.json",
        ):
            await bot.post_alert(json.loads((PAYLOADS / payload).read_text()))
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            samples = await _scrape(bot)
            seen = {
                name: _get(samples, name)
                for name in (
                    "wizard_analysis_waiting",
                    "wizard_analysis_pending",
                    "wizard_queue_waiting",
                    "wizard_queue_pending",
                )
            }
            want = {
                "wizard_analysis_waiting": 1,
                "wizard_analysis_pending": 2,
                "wizard_queue_waiting": 0,
                "wizard_queue_pending": 0,
            }
            if seen == want:
                break
            assert asyncio.get_running_loop().time() < deadline, seen
            await asyncio.sleep(0.05)
        assert llm.calls == 1  # the gate let one analysis through; the model holds it
        llm.reset()
        await bot.drain()
        after = await _scrape(bot)
        assert _get(after, "wizard_analysis_waiting") == 0
        assert _get(after, "wizard_analysis_pending") == 0
        answered = _get(after, "wizard_llm_calls_total", outcome="ok")
        assert answered - _get(before, "wizard_llm_calls_total", outcome="ok") == 3
    finally:
        llm.reset()
        await stop_bot(bot)


def test_one_scrape_merges_the_intake_child_and_its_parent() -> None:
    """`wizard serve` is two processes; /metrics sums their samples into one valid exposition."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from bot.metrics import merged

    def process(events: int, replies: int, latencies: list[float]) -> bytes:
        registry = CollectorRegistry()
        counter = Counter("wizard_events", "Events.", ["kind"], registry=registry)
        if events:
            counter.labels("alert").inc(events)
        Counter("wizard_replies", "Replies.", registry=registry).inc(replies)
        histogram = Histogram("wizard_llm_latency_seconds", "Latency.", registry=registry)
        for value in latencies:
            histogram.observe(value)
        return generate_latest(registry)

    body = merged(process(5, 0, []), process(0, 3, [1.5, 30.0]))
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    samples = {
        (s.name, tuple(s.labels.items())): s.value for f in families.values() for s in f.samples
    }
    assert samples[("wizard_events_total", (("kind", "alert"),))] == 5
    assert samples[("wizard_replies_total", ())] == 3
    assert samples[("wizard_llm_latency_seconds_count", ())] == 2
    assert samples[("wizard_llm_latency_seconds_bucket", (("le", "+Inf"),))] == 2
    assert body.decode().count("# TYPE wizard_replies_total counter") == 1
