"""Every Redis key is built in bot/store/keys.py, and its docstring table lists each one."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from bot.store import keys

ROOT = Path(__file__).resolve().parents[2]


def _shape(key: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", key)


def test_every_key_of_keys_py_is_in_its_table() -> None:
    table = {_shape(k) for k in re.findall(r"^\| `([^`]+)`", keys.__doc__ or "", re.M)}
    table |= {_shape(k) for k in re.findall(r" / `([^`]+)`", keys.__doc__ or "")}
    built: list[str] = []
    for name, value in vars(keys).items():
        if name.isupper() and isinstance(value, str) and value.startswith(keys.PREFIX + ":"):
            built.append(value)
        elif inspect.isfunction(value) and value.__module__ == keys.__name__:
            params = inspect.signature(value).parameters
            built.append(value(*("{" + p + "}" for p in params)))
    missing = sorted(k for k in built if _shape(k) not in table)
    assert not missing, f"keys.py builds keys its table does not list: {missing}"


def test_no_key_is_spelled_outside_keys_py() -> None:
    offenders: list[str] = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if path == ROOT / "bot" / "store" / "keys.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.match(r"wizard:[a-z]", node.value):
                    offenders.append(f"{where}: {node.value!r}")
            elif isinstance(node, ast.JoinedStr):  # f"{keys.JOBS_STREAM}:dead" builds a key too
                names = {
                    n.value.id
                    for v in node.values
                    if isinstance(v, ast.FormattedValue)
                    for n in ast.walk(v.value)
                    if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                }
                if "keys" in names:
                    offenders.append(f"{where}: an f-string around a keys.* name")
    assert not offenders, offenders
