"""Tool inputs are held to their limits, outputs redacted, cut and wrapped; Loki via its API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.devtools.monitoring import Exporter, Server
from bot.evidence.loki import LokiClient
from bot.evidence.prometheus import PrometheusClient
from bot.evidence.tools import ToolBox, ToolSpecs
from bot.triage.paths import PROMPTS_DIR
from tests.evidence.conftest import ERROR_RATIO

SPECS = ToolSpecs.load(PROMPTS_DIR / "tools.yaml")


class FakeLoki:
    """Loki's `GET /loki/api/v1/query_range` answering with fixed streams (no Loki runs here:
    neither Debian nor PyPI ships one), recording the queries it gets."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        if "{" not in request.query.get("query", ""):
            return web.json_response(
                {"status": "error", "error": "parse error : queries require a selector"},
                status=400,
            )
        base = int(request.query["end"])
        values = [
            [str(base - 2_000_000_000), "order 1234 rejected: risk limit"],
            [str(base - 1_000_000_000), "reject storm: token=xoxb-123456789012-abcdefghijkl"],
        ]
        return web.json_response(
            {
                "status": "success",
                "data": {
                    "resultType": "streams",
                    "result": [{"stream": {"service": "order-gateway"}, "values": values}],
                },
            }
        )


@pytest.fixture
async def loki() -> AsyncIterator[FakeLoki]:
    fake = FakeLoki()
    app = web.Application()
    app.router.add_get("/loki/api/v1/query_range", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    await runner.cleanup()


def _payload(wrapped: str) -> Any:
    inner = wrapped.split("\n", 1)[1].rsplit("\n", 1)[0]
    return json.loads(inner)


async def test_prometheus_tool_limits_and_real_answers(
    prometheus_server: Server, exporter: Exporter
) -> None:
    client = PrometheusClient(prometheus_server.url)
    box = ToolBox(SPECS, prometheus=client)
    try:
        text, record = await box.call("prometheus_query", {"query": ERROR_RATIO})
        assert record.ok and _payload(text)["series"][0]["now"] == pytest.approx(0.073)
        text, record = await box.call(
            "prometheus_query", {"query": ERROR_RATIO, "range_minutes": 10}
        )
        assert record.ok and _payload(text)["step_seconds"] == 3  # 600 s / 300 points
        refusals = [
            ({"query": "up", "range_minutes": 1441}, "range_minutes: Input should be less"),
            ({"query": "x" * 2001}, "query: String should have at most 2000"),
            ({"query": "up", "range_minutes": 60, "step_seconds": 5}, "more than 300 points"),
            ({"query": "up", "shell": "rm -rf /"}, "shell: Extra inputs are not permitted"),
            ({"query": "sum(rate("}, "HTTP 400"),
        ]
        for raw, why in refusals:
            text, record = await box.call("prometheus_query", raw)
            assert not record.ok and why in str(record.error), (raw, record.error)
            assert text.startswith('<untrusted_data source="tool prometheus_query">\nerror: ')
        text, record = await box.call("shell", {"cmd": "id"})
        assert not record.ok and "unknown tool" in str(record.error)
    finally:
        await client.close()


async def test_outputs_are_redacted_cut_and_hashed(
    prometheus_server: Server, exporter: Exporter, loki: FakeLoki
) -> None:
    for i in range(40):
        exporter.set(f'wizard_wide_series{{service="ogw",pod="ogw-{i:03d}"}}', i)
    client = PrometheusClient(prometheus_server.url)
    box = ToolBox(SPECS, prometheus=client, loki=LokiClient(loki.url), result_tokens=200)
    try:
        from bot.devtools.monitoring import eventually

        await eventually(
            "wide series scraped",
            lambda: client.instant("wizard_wide_series"),
            lambda s: len(s) == 40,
        )
        text, record = await box.call("prometheus_query", {"query": "wizard_wide_series"})
        assert record.ok and "characters cut: narrow the query" in text
        assert len(text) < 200 * 4 + 200
        logs, log_record = await box.call(
            "logs_query", {"query": '{service="order-gateway"} |= "reject"', "minutes": 15}
        )
        assert log_record.ok and "risk limit" in logs
        assert "xoxb-123456789012" not in logs and "[REDACTED" in logs
        assert loki.queries[-1]["direction"] == "backward" and loki.queries[-1]["limit"] == "50"
        _, bad_record = await box.call("logs_query", {"query": "reject"})
        assert not bad_record.ok and "HTTP 400: parse error" in str(bad_record.error)
        import hashlib

        assert record.result_sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert record.result_chars == len(text)
    finally:
        await box.close()
        await client.close()


def test_only_configured_sources_are_offered(tmp_path: Path) -> None:
    assert [t["name"] for t in ToolBox(SPECS).definitions()] == []
    client = PrometheusClient("http://127.0.0.1:9")
    names = [t["name"] for t in ToolBox(SPECS, prometheus=client).definitions()]
    assert names == ["prometheus_query"]
    broken = tmp_path / "tools.yaml"
    broken.write_text("tools:\n  - name: shell\n    description: x\n    input_schema: {}\n")
    with pytest.raises(ValueError, match="no implementation for tools"):
        ToolSpecs.load(broken)
