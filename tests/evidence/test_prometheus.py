"""The Prometheus client against a real Prometheus (Debian's binary) scraping a test exporter."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.devtools.monitoring import (
    BASIC_PASSWORD,
    BASIC_USER,
    Exporter,
    Server,
    eventually,
    free_port,
    start_prometheus,
)
from bot.evidence.http import SourceUnavailable
from bot.evidence.prometheus import PrometheusClient, step_for
from tests.evidence.conftest import ERROR_RATIO, Recording


async def test_instant_query_reads_the_scraped_value(prometheus_server: Server) -> None:
    client = PrometheusClient(prometheus_server.url)
    try:
        series = await client.instant(ERROR_RATIO)
    finally:
        await client.close()
    assert len(series) == 1
    assert series[0].labels["service"] == "order-gateway"
    assert series[0].last == pytest.approx(0.073)


async def test_range_query_holds_at_most_sixty_points(prometheus_server: Server) -> None:
    assert step_for(timedelta(minutes=30)) == 31  # 30 min / 31 s → 59 steps
    client = PrometheusClient(prometheus_server.url)
    try:
        # A short window so the seconds-old TSDB has data at every step.
        short = await eventually(
            "two scrapes in the window",
            lambda: client.range(ERROR_RATIO, window=timedelta(seconds=4), step_s=1),
            lambda s: bool(s) and len(s[0].samples) >= 2,
        )
        full = await client.range(ERROR_RATIO, window=timedelta(minutes=30))
    finally:
        await client.close()
    assert short and len(short[0].samples) >= 2
    assert all(v == pytest.approx(0.073) for _, v in short[0].samples)
    assert full and 1 <= len(full[0].samples) <= 60


async def test_a_bad_expression_reports_prometheus_own_error(prometheus_server: Server) -> None:
    client = PrometheusClient(prometheus_server.url)
    try:
        with pytest.raises(SourceUnavailable, match=r"HTTP 400: .*parse error"):
            await client.instant("sum(rate(")
    finally:
        await client.close()


async def test_graph_url_points_at_the_configured_prometheus() -> None:
    client = PrometheusClient("http://user:pw@prom.internal:9090/prom/")
    url = client.graph_url('up{job="x"}')
    assert url.startswith("http://prom.internal:9090/prom/graph?g0.expr=up%7Bjob%3D%22x%22%7D")
    assert "pw" not in url and "user" not in url
    assert "g0.range_input=30m" in url


@pytest.fixture(scope="module")
def protected_prometheus(tmp_path_factory: pytest.TempPathFactory, exporter: Exporter):  # type: ignore[no-untyped-def]
    server = start_prometheus(tmp_path_factory.mktemp("prom-auth"), exporter.port, basic_auth=True)
    yield server
    server.stop()


async def test_basic_auth_settings_reach_a_protected_prometheus(
    protected_prometheus: Server,
) -> None:
    good = PrometheusClient(
        protected_prometheus.url, username=BASIC_USER, password=SecretStr(BASIC_PASSWORD)
    )
    in_url = PrometheusClient(
        protected_prometheus.url.replace("://", f"://{BASIC_USER}:{BASIC_PASSWORD}@")
    )
    anonymous = PrometheusClient(protected_prometheus.url)
    try:
        assert (await good.instant(ERROR_RATIO))[0].last == pytest.approx(0.073)
        assert (await in_url.instant(ERROR_RATIO))[0].last == pytest.approx(0.073)
        with pytest.raises(SourceUnavailable, match="HTTP 401"):
            await anonymous.instant(ERROR_RATIO)
    finally:
        for client in (good, in_url, anonymous):
            await client.close()


async def test_bearer_token_is_sent_and_never_in_the_url(
    recorder: Recording,
) -> None:
    url, seen = recorder.url, recorder.requests
    client = PrometheusClient(url, bearer_token=SecretStr("prom-token-123"))
    try:
        assert await client.instant("up") == []
    finally:
        await client.close()
    assert seen[0].headers["Authorization"] == "Bearer prom-token-123"
    assert "prom-token" not in str(seen[0].url)


async def test_timeout_and_refusal_become_short_reasons(
    recorder: Recording, tmp_path: Path
) -> None:
    url = recorder.url
    slow = PrometheusClient(url + "/hang", timeout_s=0.3)
    started = time.perf_counter()
    try:
        with pytest.raises(SourceUnavailable, match=r"no answer within 0.3s"):
            await slow.instant("up")
    finally:
        await slow.close()
    assert time.perf_counter() - started < 1.5
    closed = PrometheusClient(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(SourceUnavailable, match=r"cannot reach 127.0.0.1"):
            await closed.instant("up")
    finally:
        await closed.close()
