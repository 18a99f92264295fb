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


async def test_locked_down_server_refuses_dangerous_commands_and_keeps_transactions(
    tmp_path: Path,
) -> None:
    """The bot's user cannot reconfigure, flush or dump the server; its MULTI/EXEC writes
    survive a restart (valkey replays AOF transactions under the default user's ACL: a locked
    default user once made every transaction vanish on restart)."""
    import stat

    import pytest
    from redis.exceptions import NoPermissionError, ResponseError

    server = EmbeddedRedis(tmp_path / "data")
    await server.start()
    try:
        assert server.socket_path is not None and server.port == 0
        assert "127.0.0.1" not in server.url and server.url != server.admin_url
        client = connect(server.url)
        for command in (("CONFIG", "SET", "dir", "/tmp"), ("FLUSHALL",), ("KEYS", "*")):
            with pytest.raises(NoPermissionError):
                await client.execute_command(*command)
        with pytest.raises(ResponseError):
            await client.execute_command("DEBUG", "SLEEP", "0")
        async with client.pipeline(transaction=True) as pipe:
            pipe.set("in-multi", "1")
            pipe.xadd("stream-in-multi", {"k": "v"})
            await pipe.execute()
        await client.aclose()
        await server.restart()
        client = connect(server.url)
        assert await client.get("in-multi") == "1"
        assert await client.xlen("stream-in-multi") == 1
        await client.aclose()
        admin = connect(server.admin_url)
        assert (await admin.config_get("maxmemory-policy"))["maxmemory-policy"] == "noeviction"
        await admin.aclose()
        for path in [tmp_path / "data", *(tmp_path / "data").rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, (path, oct(mode))
    finally:
        await server.stop()
