"""How many alert facts the parsers get right on real tools' messages, and how many they invent.

Every fixture in `tests/fixtures/facts.json` (rendered from the tools' own Slack templates or
captured from the real tool; `tests/fixtures/README.md` says which) lists the alerts a person
reading the message would write down: status, name, severity, service, environment, summary and
links. This script parses each fixture with `bot.alerts.registry.parse_payload` and scores every
listed fact:

- right: equal to the expected value (names: any accepted spelling; summary: the expected phrase
  occurs in the parsed summary; links: every expected URL is among the parsed links);
- invented: a value where the message has none (an expected null that came back filled, a
  severity where the message states none, a link or value that occurs nowhere in the message, an
  alert that is not there). An invented fact is also wrong.

`--baseline DIR` scores a second checkout (e.g. main before this change, unpacked with
`git archive`) in a subprocess on the same fixtures, so both figures come from one run.
Prints JSON; `--out FILE` also writes it.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
FACTS = ("status", "name", "severity", "service", "environment", "summary", "links")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)] + [str(k) for k in value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).strip().lower()


def _links(alert: Any) -> list[str]:
    links = alert.links.model_dump()
    return [u for u in links.values() if isinstance(u, str) and u]


def score_alert(expected: dict[str, Any], alert: Any, text: str) -> tuple[int, int, int, list[str]]:
    """(facts scored, right, invented, notes) for one expected alert against one parsed alert."""
    scored = right = invented = 0
    notes: list[str] = []
    for fact in FACTS:
        if fact not in expected:
            continue
        want = expected[fact]
        scored += 1
        ok = False
        made_up = False
        if alert is None:
            notes.append(f"{fact}: alert missing")
            continue
        if fact == "name":
            accepted = want if isinstance(want, list) else [want]
            ok = _norm(alert.name) in {_norm(a) for a in accepted}
            made_up = not ok and _norm(alert.name) not in text
        elif fact == "severity":
            got = alert.severity
            ok = got == (want or "unknown")
            made_up = not ok and want is None
        elif fact in ("service", "environment"):
            got = getattr(alert, fact)
            ok = (got is None and want is None) or (
                got is not None and want is not None and _norm(got) == _norm(want)
            )
            made_up = not ok and got is not None and (want is None or _norm(got) not in text)
        elif fact == "status":
            ok = alert.status == want
        elif fact == "summary":
            ok = _norm(want) in _norm(alert.summary)
        elif fact == "links":
            got_links = _links(alert)
            ok = all(w in got_links for w in want)
            # a link built from ids in the message (CloudWatch's console URL) is expected
            made_up = any(u.lower() not in text and u not in want for u in got_links)
        right += ok
        invented += made_up
        if not ok:
            got_value = _links(alert) if fact == "links" else getattr(alert, fact, None)
            notes.append(
                f"{fact}: want {want!r} got {got_value!r}" + (" (invented)" if made_up else "")
            )
    return scored, right, invented, notes


def run(fixtures: Path) -> dict[str, Any]:
    if not os.environ.get("PYTHONPATH"):  # a baseline run sets it to the other checkout
        sys.path.insert(0, str(ROOT))
    import structlog

    # parser warnings go to stderr: stdout is the JSON figure
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    from bot.alerts.registry import parse_payload

    facts = json.loads((fixtures / "facts.json").read_text(encoding="utf-8"))
    tools: dict[str, dict[str, int]] = {}
    details: dict[str, list[str]] = {}
    crashes = 0
    started = time.perf_counter()
    for name, entry in sorted(facts.items()):
        payload = json.loads((fixtures / name).read_text(encoding="utf-8"))
        text = html.unescape(" \n".join(_strings(payload))).lower()
        try:
            alerts = parse_payload(payload)
        except Exception as exc:  # counted, never fatal: the figure must still print
            crashes += 1
            alerts = []
            details.setdefault(name, []).append(f"crash: {exc!r}"[:200])
        tool = tools.setdefault(entry["tool"], {"facts": 0, "right": 0, "invented": 0})
        expected = entry["alerts"]
        for i, want in enumerate(expected):
            got = alerts[i] if i < len(alerts) else None
            scored, right, invented, notes = score_alert(want, got, text)
            tool["facts"] += scored
            tool["right"] += right
            tool["invented"] += invented
            if notes:
                details.setdefault(name, []).extend(notes)
        extra = len(alerts) - len(expected)
        if extra > 0:
            tool["invented"] += extra
            details.setdefault(name, []).append(f"{extra} alert(s) that are not in the message")
    total = sum(t["facts"] for t in tools.values())
    right = sum(t["right"] for t in tools.values())
    return {
        "fixtures": len(facts),
        "tools": len(tools),
        "facts": total,
        "right": right,
        "percent_right": round(100 * right / total, 1) if total else 0.0,
        "invented": sum(t["invented"] for t in tools.values()),
        "crashes": crashes,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "per_tool": {
            k: {**v, "percent_right": round(100 * v["right"] / v["facts"], 1) if v["facts"] else 0}
            for k, v in sorted(tools.items())
        },
        "wrong": details,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--baseline", type=Path, help="another checkout's root to score too")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quiet", action="store_true", help="omit the per-fact mistakes")
    args = parser.parse_args()
    result: dict[str, Any] = {"this": run(args.fixtures)}
    if args.baseline:
        env = {**os.environ, "PYTHONPATH": str(args.baseline)}
        out = subprocess.run(
            [sys.executable, __file__, "--fixtures", str(args.fixtures)],
            cwd=args.baseline,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result["baseline"] = json.loads(out.stdout)["this"]
    if args.quiet:
        for side in result.values():
            side.pop("wrong", None)
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
