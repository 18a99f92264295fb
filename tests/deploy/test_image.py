"""The container image, built from the repository's Dockerfile and started with a real engine:
podman builds it, buildah runs it (both Debian packages; .ci/run installs them).

No registry but PyPI and Debian's is reachable here, so the Dockerfile's `python:3.12-slim` base
cannot be pulled: the base is a Debian 13 (Python 3.13) root filesystem made with debootstrap
from Debian's packages and imported, passed as the Dockerfile's PYTHON_IMAGE build argument.
Containers run with buildah's chroot isolation: this sandbox refuses the cgroup and rlimit calls
crun/runc make (`podman run` fails with "cgroups in hybrid mode not supported" / "setrlimit
RLIMIT_NPROC: Operation not permitted"), while the image, its user, env and files are the same.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.devtools.slack import SlackSandbox

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/wizard-test-base:trixie"
IMAGE = "localhost/infrastructure-wizard:test"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
"""This machine reaches PyPI through a TLS-inspecting proxy whose CA only the host trusts."""


def _run(*argv: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert (
        result.returncode == 0
    ), f"{argv[:3]} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result


def _debian_mirror() -> str:
    """The Debian archive this machine's apt already uses (its deb822 or one-line sources), so
    debootstrap reaches the same registry apt does and no host is written down here."""
    for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and not line.rstrip().endswith("-security"):
                return line.split(":", 1)[1].split()[0]
    listing = Path("/etc/apt/sources.list")
    for line in listing.read_text().splitlines() if listing.exists() else []:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb" and not parts[1].endswith("-security"):
            return parts[1]
    raise AssertionError("no Debian archive in /etc/apt sources for debootstrap")


def _tools() -> None:
    missing = [t for t in ("podman", "buildah", "debootstrap") if shutil.which(t) is None]
    assert not missing, f"apt-get install {' '.join(missing)} (.ci/run does)"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _tools()
    if subprocess.run(["podman", "image", "exists", BASE]).returncode != 0:
        rootfs = tmp_path_factory.mktemp("rootfs")
        _run(
            "debootstrap", "--variant=minbase",
            "--include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates",
            "trixie", str(rootfs), _debian_mirror(),
        )  # fmt: skip
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["podman", "import", "-", BASE], stdin=tar.stdout, capture_output=True
        )
        tar.wait()
        assert imported.returncode == 0, imported.stderr
    mounts = ["-v", f"{HOST_CA}:{HOST_CA}:ro"] if HOST_CA.exists() else []
    _run(
        "podman", "build", "--isolation", "chroot", "--network", "host", *mounts,
        "--build-arg", f"PYTHON_IMAGE={BASE}", "-t", IMAGE, str(ROOT),
    )  # fmt: skip
    yield IMAGE


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = _run("buildah", "from", image).stdout.strip()
    yield name
    subprocess.run(["buildah", "rm", name], capture_output=True)


def _in_container(name: str, env: dict[str, str], *argv: str) -> list[str]:
    flags = [f"--env={k}={v}" for k, v in env.items()]
    return [
        "buildah",
        "run",
        "--isolation",
        "chroot",
        "--network",
        "host",
        *flags,
        name,
        "--",
        *argv,
    ]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def slack() -> AsyncIterator[SlackSandbox]:
    async with SlackSandbox() as box:
        yield box


def _env(sandbox: SlackSandbox) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-image-test",
        "SLACK_SIGNING_SECRET": "image-secret",
        "SLACK_API_URL": sandbox.base_url,
        "WIZARD_ALERT_CHANNELS": "C0ALERTS",
    }


async def _exec(argv: list[str], timeout: float = 120) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_wizard_check_passes_inside_the_image(container: str, slack: SlackSandbox) -> None:
    code, out = await _exec(_in_container(container, _env(slack), "wizard", "check"))
    assert code == 0, out
    assert "ok   redis      REDIS_URL unset: embedded server valkey-server, data /data/redis" in out
    assert "ok   catalog    WIZARD_CATALOG_PATH=/app/catalog.yaml" in out  # shipped in the image
    assert "ok   freezes    WIZARD_FREEZES_PATH=/app/freezes.yaml" in out
    assert "ok   slack      SLACK_BOT_TOKEN: auth.test ok" in out
    code, out = await _exec(_in_container(container, {}, "sh", "-c", "id -u; wizard --version"))
    assert out.split() == ["10001", "wizard", "0.1.0"], out  # non-root, numeric uid


def _serve_pid(port: int) -> int:
    """The containerised `wizard serve` (not buildah or its chroot helper, whose argv holds the
    same words)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"/opt/venv/bin/python", b"/opt/venv/bin/wizard"] and (
            str(port).encode() in argv
        ):
            return int(cmdline.parent.name)
    raise AssertionError(f"no wizard serve on port {port} in /proc")


async def test_the_image_serves_and_stops_on_sigterm(container: str, slack: SlackSandbox) -> None:
    port = _port()
    argv = _in_container(
        container, _env(slack), "wizard", "serve", "--host", "127.0.0.1", "--port", str(port)
    )
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(90):
            while True:
                assert proc.returncode is None, "serve exited before /healthz answered"
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            assert await response.json() == {"redis": True, "workers": True}
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.2)
        # SIGTERM the bot itself, as the engine's stop does (buildah's own SIGTERM handling kills
        # its child instead of forwarding the signal, which would skip the drain under test)
        os.kill(_serve_pid(port), signal.SIGTERM)
    finally:
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
    logs = err.decode()
    assert '"event": "wizard_serving"' in logs and '"event": "runtime_stopped"' in logs, logs[
        -3000:
    ]
    assert "xoxb-image-test" not in logs
