"""The locks pin what pyproject.toml asks for: a dependency added to pyproject.toml without
`./wizard lock` fails here (offline), not as an ImportError on someone's fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(*groups: str) -> list[Requirement]:
    project = _project()
    reqs = [Requirement(r) for r in project["dependencies"]]
    extras = project.get("optional-dependencies", {})
    for group in groups:
        reqs += [Requirement(r) for r in extras[group]]
    reqs += [Requirement(r) for r in _lines(ROOT / "requirements" / "build.in")]
    return reqs


def _lines(path: Path) -> list[str]:
    return [
        line.split("#")[0].strip()
        for line in path.read_text().splitlines()
        if line.split("#")[0].strip()
    ]


@pytest.mark.parametrize(("lock", "groups"), [("runtime.lock", ()), ("dev.lock", ("dev",))])
def test_every_requirement_is_pinned_within_its_range(lock: str, groups: tuple[str, ...]) -> None:
    pins = _pins(lock)
    for req in _requirements(*groups):
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in {lock}: run ./wizard lock"
        assert req.specifier.contains(
            pins[name], prereleases=True
        ), f"{lock} pins {req.name}=={pins[name]}, outside {req.specifier}: run ./wizard lock"


def test_dev_lock_adds_tools_without_moving_a_runtime_pin() -> None:
    runtime, dev = _pins("runtime.lock"), _pins("dev.lock")
    assert runtime.items() <= dev.items(), {
        n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v
    }


def test_runtime_lock_holds_no_dev_tool() -> None:
    runtime = _pins("runtime.lock")
    for tool in ("pytest", "mypy", "ruff", "black", "helm-python-sdk", "hypothesis"):
        assert tool not in runtime, f"{tool} would be installed by ./wizard demo"


@pytest.mark.parametrize("lock", ["runtime.lock", "dev.lock", "tools.lock"])
def test_every_pin_is_hash_checked(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text()
    blocks = re.split(
        r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[-1] if text.startswith("#") else text
    )
    pinned = [b for b in blocks if PIN.match(b)]
    assert pinned
    for block in pinned:
        assert "--hash=sha256:" in block, block.splitlines()[0]
