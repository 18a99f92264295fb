"""Where data really goes, read from outside: Redis (every key, every type), the AOF files on
disk, the data dir's file modes, and what another local user can reach.

Why a module: the campaign (and anyone auditing a deployment) must look at the bytes a thief
would get, not at what the code intends to write. Redis is read over an admin connection (the
bot's own user may be denied SCAN-like and persistence commands), the AOF is forced to rewrite
and every file under the data dir is read, waiting on INFO conditions rather than sleeping.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import redis.asyncio as redis

PROBE = r"""
import json, os, socket, sys
target, files = json.loads(sys.argv[1])
out = {"uid": os.getuid(), "connect": None, "readable": []}
try:
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(target[5:])
    else:
        host, port = target.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=2)
    s.sendall(b"PING\r\nCONFIG GET requirepass\r\n")
    s.settimeout(1)
    data = b""
    try:
        while len(data) < 200:
            chunk = s.recv(200)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    out["connect"] = data.decode(errors="replace")[:200]
except OSError as exc:
    out["connect"] = "refused: " + type(exc).__name__
for path in files:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        out["readable"].append(path)
    except OSError:
        pass
print(json.dumps(out))
"""


async def dump_redis(client: redis.Redis) -> dict[str, str]:
    """Every key's value as text, whatever its type (stream entries decoded field by field)."""
    values: dict[str, str] = {}
    async for raw_key in client.scan_iter(count=500):
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        kind = await client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        value: Any
        if kind == "string":
            value = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "list":
            value = await client.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(await client.smembers(key))
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = await client.xrange(key)
        else:
            value = f"<{kind}>"
        values[key] = key + " " + json.dumps(value, default=_text, ensure_ascii=False)
    return values


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def _info(client: redis.Redis) -> dict[str, Any]:
    return dict(await client.info("persistence"))


async def rewrite_aof(client: redis.Redis, timeout: float = 30.0) -> None:
    """BGREWRITEAOF, then wait until no rewrite is running or scheduled (a condition)."""
    before = await _info(client)
    await client.bgrewriteaof()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await _info(client)
        busy = info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled")
        changed = info.get("aof_last_rewrite_time_sec") != before.get("aof_last_rewrite_time_sec")
        if not busy and (changed or info.get("aof_rewrites", 0) != before.get("aof_rewrites", 0)):
            return
        if not busy and info.get("aof_last_bgrewrite_status") == "ok":
            return
        await _pause()
    raise TimeoutError("BGREWRITEAOF did not finish")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)


def read_tree(root: Path) -> dict[str, str]:
    """Every regular file under `root` as text (binary bytes replaced)."""
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_socket():
            found[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return found


def modes(root: Path) -> dict[str, str]:
    """`path -> 0o...` for the tree: what `ls -l` would tell another user."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for path in [root, *sorted(root.rglob("*"))]:
        out[str(path)] = oct(stat.S_IMODE(path.lstat().st_mode))
    return out


def other_user_probe(target: str, files: list[str], user: str = "nobody") -> dict[str, Any]:
    """Run a connection attempt and file reads as another local user (`setpriv`, needs root).

    `target` is `host:port` or `unix:/path`. Returns what that user got: the server's reply to
    PING (or the refusal) and which files it could open.
    """
    if os.geteuid() != 0:
        return {"skipped": "not root: cannot switch to another user"}
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"
    cmd = [
        "setpriv",
        f"--reuid={user}",
        "--regid=nogroup",
        "--clear-groups",
        "--",
        python,
        "-c",
        PROBE,
        json.dumps([target, files]),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def redis_admin(embedded: Any) -> redis.Redis:
    """An admin connection to the embedded server (its `admin_url` when it has one)."""
    url = getattr(embedded, "admin_url", None) or embedded.url
    client: redis.Redis = redis.Redis.from_url(url, decode_responses=True)
    return client


def redis_target(embedded: Any) -> str:
    """Where another user would try to connect: the unix socket, else loopback TCP."""
    path = getattr(embedded, "socket_path", None)
    if path is not None:
        return f"unix:{path}"
    return f"127.0.0.1:{embedded.port}"


def data_files(root: Path) -> list[str]:
    """Every regular file under `root` (what another user would try to open)."""
    return [str(p) for p in sorted(root.rglob("*")) if p.is_file() and not p.is_socket()]
