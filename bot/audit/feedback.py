"""Feedback on answers as an evaluation set: what people said about which answer.

Each click on an answer's feedback buttons (helpful / not helpful / wrong runbook) is an audit
record of kind `feedback` naming the answer (`answer_ref` = the posting job's id and slot). An
evaluation set is those records joined with the audited answers they are about — the input
(alert fingerprint or question, runbook, model, prompt hash) and the output — one JSON line
per verdict, ready to replay against a new prompt or model (`wizard audit export --feedback`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ANSWER_KINDS = ("triage", "followup", "question")
FEEDBACK_KIND = "feedback"


def _answer_for(ref: str, answers: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The audited answer `ref` (`<job id>:<slot>`) is about; job ids contain colons too, so the
    longest job id that prefixes the ref wins."""
    found = [a for a in answers if ref.startswith(f"{a.get('job_id')}:")]
    return max(found, key=lambda a: len(str(a.get("job_id")))) if found else None


def evaluation_set(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per feedback record, with the answer it judged (None if not in the window)."""
    answers = [r for r in records if r.get("kind") in ANSWER_KINDS]
    out: list[dict[str, Any]] = []
    for record in records:
        if record.get("kind") != FEEDBACK_KIND:
            continue
        answer = _answer_for(str(record.get("answer_ref") or ""), answers)
        out.append(
            {
                "at": record.get("at"),
                "verdict": record.get("verdict"),
                "actor": record.get("actor"),
                "answer_ref": record.get("answer_ref"),
                "kind": answer.get("kind") if answer else None,
                "thread": answer.get("thread") if answer else record.get("thread"),
                "question": answer.get("question") if answer else None,
                "fingerprint": answer.get("fingerprint") if answer else None,
                "runbook": answer.get("runbook") if answer else None,
                "model": answer.get("model") if answer else None,
                "prompt_hash": answer.get("prompt_hash") if answer else None,
                "fallback": answer.get("fallback") if answer else None,
                "answer": answer.get("answer") if answer else None,
            }
        )
    return out


def counts(entries: Sequence[dict[str, Any]]) -> dict[str, int]:
    tally: dict[str, int] = {}
    for entry in entries:
        verdict = str(entry.get("verdict"))
        tally[verdict] = tally.get(verdict, 0) + 1
    return tally


def write_evaluation_set(entries: Sequence[dict[str, Any]], out_dir: Path) -> Path:
    """`feedback-eval.jsonl` under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "feedback-eval.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
    return path
