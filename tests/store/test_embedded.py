"""The embedded server is a real Redis >= 6.2 that keeps data across restarts (AOF)."""

from __future__ import annotations

from pathlib import Path

from bot.store.connection import connect
from bot.store.embedded import EmbeddedRedis


async def test_embedded_redis_persists_across_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "data")
    await server.start()
    try:
        client = connect(server.url)
        info = await client.info("server")
        major, minor = (int(x) for x in str(info["redis_version"]).split(".")[:2])
        assert (major, minor) >= (6, 2)
        await client.xadd("s", {"k": "v"})
        await client.set("kept", "yes")
        await client.aclose()
        await server.restart()
        client = connect(server.url)
        assert await client.get("kept") == "yes"
        assert await client.xlen("s") == 1
        await client.aclose()
        assert (tmp_path / "data" / "appendonlydir").is_dir()
    finally:
        await server.stop()
    assert not server.running
