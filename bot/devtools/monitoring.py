"""Real Prometheus and Alertmanager servers on loopback (Debian's binaries), plus a tiny exporter.

For tests, benchmarks and the demo. Why real: what matters is what Prometheus and Alertmanager
really answer (result types, error shapes, silence and inhibition state), so the actual binaries
are started on free loopback ports with throw-away configs, and waited on with deadlines —
never fixed sleeps. Prometheus scrapes `Exporter`, whose gauges the caller sets.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMETHEUS_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER_BIN = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
BASIC_USER = "wizard"
BASIC_PASSWORD = "wizard-test-pass"  # noqa: S105 - a throw-away loopback test server's
# bcrypt (cost 4) of BASIC_PASSWORD, for Prometheus' --web.config.file basic_auth_users
BASIC_HASH = "$2b$04$3kGHKOYSzZ4MA5eIBpIqL.1pB0krg4vA7aeD3rEWhcmc8STrDreVK"


def binaries_present() -> bool:
    """Whether Debian's prometheus and prometheus-alertmanager are installed here."""
    return Path(PROMETHEUS_BIN).is_file() and Path(ALERTMANAGER_BIN).is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], deadline_s: float = 30.0) -> None:
    """Poll `check` every 50 ms until it is true; fail naming `what` after the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if check():
                return
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} not within {deadline_s:g}s")


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("loopback servers only")
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - checked above
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


class Exporter:
    """`/metrics` in the Prometheus text format, from gauges a test sets (thread-safe)."""

    def __init__(self) -> None:
        self.gauges: dict[str, float] = {}
        self.rates: dict[str, float] = {}
        """Counters: series → increase per second (the exposed value grows with time)."""
        self.started = time.monotonic()
        self.scrapes = 0
        self._lock = threading.Lock()
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with exporter._lock:
                    exporter.scrapes += 1
                    age = time.monotonic() - exporter.started
                    values = {**exporter.gauges}
                    values.update({k: 1000 + r * age for k, r in exporter.rates.items()})
                    body = "".join(f"{k} {v}\n" for k, v in values.items()).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the scraper went away (Prometheus stopping): nothing to answer

            def log_message(self, *_: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def set(self, series: str, value: float) -> None:
        """`series` is a name with labels, as exposed: `wizard_error_ratio{service="ogw"}`."""
        with self._lock:
            self.gauges[series] = value

    def grow(self, series: str, per_second: float) -> None:
        """A counter increasing by `per_second` (so `rate(series[1m])` reads `per_second`)."""
        with self._lock:
            self.rates[series] = per_second

    def start(self) -> Exporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Server:
    """A child process on a loopback port, stopped (and its log kept) at the end."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        # argv is built here from the Debian binaries' paths and our own temp files
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {tail}")
        return True


def start_prometheus(
    workdir: Path,
    exporter_port: int,
    *,
    alertmanager_port: int | None = None,
    rules: str | None = None,
    basic_auth: bool = False,
) -> Server:
    """Prometheus scraping the exporter every second; ready when the exporter's target is up."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            }
        ],
    }
    if rules is not None:
        (workdir / "rules.yml").write_text(rules)
        config["rule_files"] = [str(workdir / "rules.yml")]
    if alertmanager_port is not None:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        }
    (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    argv = [
        PROMETHEUS_BIN,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}/",
        "--log.level=warn",
    ]
    headers: dict[str, str] = {}
    if basic_auth:
        (workdir / "web.yml").write_text(json.dumps({"basic_auth_users": {BASIC_USER: BASIC_HASH}}))
        argv.append(f"--web.config.file={workdir / 'web.yml'}")
        import base64

        token = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    server = Server("prometheus", argv, port, workdir)

    def target_up() -> bool:
        server.alive()
        query = urllib.parse.urlencode({"query": 'up{job="exporter"} == 1'})
        body = get_json(f"{server.url}/api/v1/query?{query}", headers)
        return bool(body["data"]["result"])

    try:
        wait_for("prometheus scraping the exporter", target_up)
    except BaseException:
        server.stop()
        raise
    return server


ALERTMANAGER_CONFIG = {
    "route": {"receiver": "null", "group_wait": "1s", "group_interval": "1s"},
    "receivers": [{"name": "null"}],
    "inhibit_rules": [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["service"],
        }
    ],
}


def start_alertmanager(
    workdir: Path, *, config: dict[str, Any] | None = None, port: int | None = None
) -> Server:
    """Alertmanager with a null receiver and one inhibition rule (critical mutes warning), or
    `config` (e.g. receivers pointing at the bot) on `port` when the caller had to pick it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    (workdir / "alertmanager.yml").write_text(json.dumps(config or ALERTMANAGER_CONFIG))
    argv = [
        ALERTMANAGER_BIN,
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    server = Server("alertmanager", argv, port, workdir)

    def ready() -> bool:
        server.alive()
        return bool(get_json(f"{server.url}/api/v2/status").get("config"))

    try:
        wait_for("alertmanager ready", ready)
    except BaseException:
        server.stop()
        raise
    return server


def post_alerts(alertmanager_url: str, alerts: list[dict[str, Any]]) -> None:
    """Push alerts the way Prometheus does (`POST /api/v2/alerts`)."""
    if not alertmanager_url.startswith("http://127.0.0.1:"):
        raise ValueError("loopback servers only")
    request = urllib.request.Request(  # noqa: S310 - checked above
        f"{alertmanager_url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        response.read()


async def eventually[T](
    what: str, probe: Callable[[], Any], ok: Callable[[T], bool], deadline_s: float = 20.0
) -> T:
    """Await `probe()` every 100 ms until `ok(result)`; fail naming `what` after the deadline."""
    import asyncio

    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        last = await probe()
        if ok(last):
            return last  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{what} not within {deadline_s:g}s (last: {last!r:.300})")


OGW = 'service="order-gateway"'
# A market-open incident on the bundled catalog's services: order-gateway p99 past 5 ms with
# 503s at ~6 %, a market-data feed gapping, a pricing consumer lagging. Names match catalog.yaml.
DEMO_COUNTERS: dict[str, float] = {
    **{
        f'order_gateway_ack_latency_seconds_bucket{{{OGW},le="{le}"}}': per_s
        for le, per_s in (
            ("0.0005", 200),
            ("0.001", 600),
            ("0.002", 900),
            ("0.005", 980),
            ("0.01", 995),
            ("+Inf", 1000),
        )
    },
    f'http_requests_total{{{OGW},code="200"}}': 940,
    f'http_requests_total{{{OGW},code="503"}}': 62,
    f"order_gateway_rejects_total{{{OGW}}}": 8,
    f"order_gateway_orders_total{{{OGW}}}": 1000,
    **{
        f'risk_check_duration_seconds_bucket{{service="risk-engine",le="{le}"}}': per_s
        for le, per_s in (("0.0002", 500), ("0.0005", 950), ("0.001", 995), ("+Inf", 1000))
    },
    'http_requests_total{service="risk-engine",code="200"}': 400,
    'http_requests_total{service="risk-engine",code="500"}': 0.4,
    'md_feed_gaps_total{service="market-data-feed",feed="XLON-L1"}': 2,
    'md_feed_messages_total{service="market-data-feed",feed="XLON-L1"}': 52000,
}
DEMO_GAUGES: dict[str, float] = {
    f"order_gateway_inflight_orders{{{OGW}}}": 720,
    f"order_gateway_inflight_limit{{{OGW}}}": 1000,
    f'node_ptp_offset_ns{{{OGW},host="ogw-1"}}': 140000,
    'md_feed_lag_seconds{service="market-data-feed",feed="XLON-L1"}': 0.012,
    'ptp_clock_offset_seconds{service="market-data-feed",instance="md-1:9100"}': 0.00004,
    'kafka_consumergroup_lag{consumergroup="pricing-engine",topic="prices"}': 25000,
    "kafka_server_replicamanager_underreplicatedpartitions": 0,
    'pg_replication_lag_seconds{service="risk-engine",instance="risk-db-2"}': 2.5,
}


def demo_exporter() -> Exporter:
    """An exporter serving the demo's series (started)."""
    exporter = Exporter()
    for series, per_second in DEMO_COUNTERS.items():
        exporter.grow(series, per_second)
    for series, value in DEMO_GAUGES.items():
        exporter.set(series, value)
    return exporter.start()
