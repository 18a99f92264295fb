"""Session-wide real Prometheus (scraping a test exporter) and real Alertmanager.

Prometheus also evaluates one alert rule and sends it to the Alertmanager, so a test can take an
alert exactly as Alertmanager holds it — with the `generatorURL` Prometheus wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from bot.devtools.monitoring import Exporter, Server, start_alertmanager, start_prometheus

ERROR_RATIO = 'wizard_http_error_ratio{service="order-gateway"}'
P99 = 'wizard_order_latency_p99_seconds{service="order-gateway"}'
FIX_UP = 'wizard_fix_session_up{service="fix-engine",session="LSE-1"}'
RULES = """
groups:
  - name: wizard-tests
    interval: 1s
    rules:
      - alert: OrderGatewayErrorRatioHigh
        expr: wizard_http_error_ratio{service="order-gateway"} > 0.05
        labels: {severity: critical}
        annotations: {summary: "order-gateway error ratio above 5 %"}
"""


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    box = Exporter()
    box.set(ERROR_RATIO, 0.073)
    box.set(P99, 0.0042)
    box.set(FIX_UP, 1)
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def alertmanager_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_alertmanager(tmp_path_factory.mktemp("alertmanager"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prometheus_server(
    tmp_path_factory: pytest.TempPathFactory, exporter: Exporter, alertmanager_server: Server
) -> Iterator[Server]:
    server = start_prometheus(
        tmp_path_factory.mktemp("prometheus"),
        exporter.port,
        alertmanager_port=alertmanager_server.port,
        rules=RULES,
    )
    yield server
    server.stop()


class Recording:
    """A local HTTP server that records every request; paths containing "hang" never answer
    (until the test ends), for timeouts. Answers like an empty Prometheus query otherwise."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if "hang" in request.path:
            await self.release.wait()
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": []}}
        )


@pytest.fixture
async def recorder() -> AsyncIterator[Recording]:
    box = Recording()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", box.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    box.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield box
    box.release.set()
    await runner.cleanup()
