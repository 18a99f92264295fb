"""Runbooks as data, and the deterministic matcher that picks one for an alert.

Runbooks live in `runbooks/*.md` (YAML front matter + fixed H2 sections) so that on-call
engineers can improve them by pull request. The matcher is plain scoring, not the model: the same
alert always gets the same runbook, which makes the fallback answer predictable when the model is
down and lets the catalogue text in the cached system prompt stay byte-stable.

Scoring tiers (a higher tier always beats any combination of lower ones):
exact alertname > glob alertname > label matches > service match > keyword hits; ties go to the
alphabetically first id. Nothing matching means `generic-triage` with score 0.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.models import Alert, RunbookRef, Severity

GENERIC_ID = "generic-triage"

SECTION_TITLES: tuple[str, ...] = (
    "Immediate actions",
    "Implementation plan",
    "Monitoring strategy",
    "Risk mitigation",
    "Rollback",
    "Success criteria",
    "Clarifying questions",
)

SCORE_EXACT_NAME = 1000
SCORE_GLOB_NAME = 400
SCORE_LABEL = 100
MAX_LABEL_HITS = 3
SCORE_SERVICE = 50
SCORE_KEYWORD = 5
MAX_KEYWORD_HITS = 9
SEARCH_RELATIVE_FLOOR_PCT = 34
FALLBACK_FLOOR_PCT = 50
"""A runbook-only answer (no model to sort relevance) keeps only close matches: a
zero-downtime deploy question is about the deploy runbook, not also the crash-loop one."""

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)(.*)\Z", re.DOTALL)
_HEADING_RE = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN_RE = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are at be by can do does for from how i in is it my of on or our should the to "
    "what when where which who why will with we you your this that there into about after "
    "before during".split()
)


class MatchRules(BaseModel):
    """How an alert is recognised: alert names (globs allowed), label values, keywords."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alertnames: tuple[str, ...] = ()
    labels: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    keywords: tuple[str, ...] = ()

    @field_validator("labels", mode="before")
    @classmethod
    def _scalar_label_values(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value


class FrontMatter(BaseModel):
    """The YAML header of a runbook file; unknown keys are rejected to catch typos."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1)
    severity_hint: Severity = "unknown"
    services: tuple[str, ...] = ()
    match: MatchRules = Field(default_factory=MatchRules)
    tags: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError(f"id {value!r} is not a lowercase slug")
        return value


class Runbook(BaseModel):
    """One loaded runbook: its front matter, its seven sections as bullet lists, and its body."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    path: Path
    severity_hint: Severity
    services: tuple[str, ...]
    match: MatchRules
    tags: tuple[str, ...]
    sections: dict[str, list[str]]
    body: str

    @property
    def filename(self) -> str:
        return self.path.name


def _split_camel(name: str) -> str:
    return _CAMEL_RE.sub(" ", name)


def _norm_token(token: str) -> str:
    """Crude plural folding so 'certificates' meets 'certificate'; same on both sides."""
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def _tokens(text: str) -> list[str]:
    words = _TOKEN_RE.findall(_split_camel(text).lower())
    return [_norm_token(w) for w in words if w not in _STOPWORDS and len(w) > 1]


def _glob_match(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _parse_sections(body: str, source: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body.splitlines():
        heading = _HEADING_RE.match(line)
        if heading:
            title = heading.group(1)
            if title in sections:
                raise ValueError(f"runbook {source}: section '## {title}' appears twice")
            current = sections.setdefault(title, [])
            continue
        if current is None:
            continue
        stripped = line.strip()
        if line.startswith("- "):
            current.append(stripped[2:].strip())
        elif stripped and current and line[:1] in (" ", "\t") and not stripped.startswith("- "):
            current[-1] = f"{current[-1]} {stripped}"
        elif stripped.startswith("- ") and current:
            current[-1] = f"{current[-1]}; {stripped[2:].strip()}"
    missing = [t for t in SECTION_TITLES if not sections.get(t)]
    if missing:
        raise ValueError(f"runbook {source}: missing or empty section(s): " + ", ".join(missing))
    return sections


def parse_runbook(path: Path) -> Runbook:
    """Parse one runbook file; any problem raises ValueError naming the file."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    found = _FRONT_MATTER_RE.match(text)
    if not found:
        raise ValueError(f"runbook {path}: no YAML front matter (--- ... ---) at the top")
    try:
        meta = yaml.safe_load(found.group(1))
    except yaml.YAMLError as exc:
        raise ValueError(f"runbook {path}: front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"runbook {path}: front matter must be a YAML mapping")
    try:
        front = FrontMatter.model_validate(meta)
    except ValidationError as exc:
        raise ValueError(f"runbook {path}: invalid front matter: {exc}") from None
    body = found.group(2).strip() + "\n"
    return Runbook(
        id=front.id,
        title=front.title,
        path=path,
        severity_hint=front.severity_hint,
        services=front.services,
        match=front.match,
        tags=front.tags,
        sections=_parse_sections(body, path),
        body=body,
    )


class RunbookCatalog:
    """All runbooks of one directory, matched and searched deterministically."""

    def __init__(self, runbooks: Iterable[Runbook], directory_name: str = "runbooks") -> None:
        ordered = sorted(runbooks, key=lambda r: r.id)
        by_id: dict[str, Runbook] = {}
        for runbook in ordered:
            if runbook.id in by_id:
                raise ValueError(
                    f"runbook id {runbook.id!r} is used by both {by_id[runbook.id].path} "
                    f"and {runbook.path}"
                )
            by_id[runbook.id] = runbook
        if GENERIC_ID not in by_id:
            raise ValueError(f"no runbook with id {GENERIC_ID!r}; it is the fallback for no match")
        self._by_id = by_id
        self._runbooks: tuple[Runbook, ...] = tuple(ordered)
        self._directory_name = directory_name

    @classmethod
    def load(cls, directory: Path) -> RunbookCatalog:
        """Load every `*.md` in `directory`; bad files raise ValueError naming the file."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ValueError(f"runbook directory {directory} does not exist")
        files = sorted(p for p in directory.glob("*.md") if p.name.lower() != "readme.md")
        return cls((parse_runbook(p) for p in files), directory_name=directory.name)

    # --- lookup -----------------------------------------------------------------------------
    def all(self) -> list[Runbook]:
        """Every runbook, sorted by id."""
        return list(self._runbooks)

    def get(self, name: str) -> Runbook | None:
        """By id (case-insensitive, `.md` optional), else a unique id prefix, else None."""
        key = name.strip().lower().removesuffix(".md")
        if not key:
            return None
        if key in self._by_id:
            return self._by_id[key]
        for runbook in self._runbooks:
            if runbook.path.stem.lower() == key:
                return runbook
        prefixed = [r for r in self._runbooks if r.id.startswith(key)]
        return prefixed[0] if len(prefixed) == 1 else None

    def search(
        self, query: str, limit: int = 5, floor_pct: int = SEARCH_RELATIVE_FLOOR_PCT
    ) -> list[Runbook]:
        """Runbooks ranked by keyword overlap with `query`; only those with a positive score
        of at least `floor_pct` % of the best one's."""
        words = set(_tokens(query))
        if not words or limit <= 0:
            return []
        scored: list[tuple[int, str, Runbook]] = []
        for runbook in self._runbooks:
            score = self._search_score(runbook, words)
            if score > 0:
                scored.append((-score, runbook.id, runbook))
        scored.sort(key=lambda item: (item[0], item[1]))
        if not scored:
            return []
        # Body-only word overlap is weak; drop hits far below the best so the list stays relevant.
        floor = -scored[0][0] * floor_pct // 100
        return [runbook for neg, _, runbook in scored if -neg >= floor][:limit]

    @staticmethod
    def _search_score(runbook: Runbook, words: set[str]) -> int:
        fields: tuple[tuple[int, Iterable[str]], ...] = (
            (6, [runbook.title, runbook.id]),
            (4, runbook.tags),
            (4, runbook.match.keywords),
            (3, [n.replace("*", " ") for n in runbook.match.alertnames]),
            (2, runbook.services),
            (1, [runbook.body]),
        )
        score = 0
        for weight, texts in fields:
            present = set()
            for text in texts:
                present.update(_tokens(text))
            score += weight * len(words & present)
        return score

    # --- matching ---------------------------------------------------------------------------
    def match(self, alert: Alert) -> tuple[Runbook, int]:
        """The best runbook for `alert` and its score; `generic-triage` with 0 when none fits."""
        best: tuple[int, str] | None = None
        for runbook in self._runbooks:
            if runbook.id == GENERIC_ID:
                continue
            score = self.score(runbook, alert)
            if score <= 0:
                continue
            if best is None or (-score, runbook.id) < (-best[0], best[1]):
                best = (score, runbook.id)
        if best is None:
            return self._by_id[GENERIC_ID], 0
        return self._by_id[best[1]], best[0]

    @staticmethod
    def score(runbook: Runbook, alert: Alert) -> int:
        """Deterministic match score of `runbook` for `alert` (0 = no match)."""
        rules = runbook.match
        name = alert.name.strip()
        score = 0
        if any(not _is_glob(p) and p.lower() == name.lower() for p in rules.alertnames):
            score += SCORE_EXACT_NAME
        elif any(_is_glob(p) and _glob_match(p, name) for p in rules.alertnames):
            score += SCORE_GLOB_NAME

        labels = {k.lower(): v for k, v in alert.labels.items()}
        label_hits = 0
        for key, patterns in sorted(rules.labels.items()):
            value = labels.get(key.lower())
            if value is not None and any(_glob_match(p, value) for p in patterns):
                label_hits += 1
        score += SCORE_LABEL * min(label_hits, MAX_LABEL_HITS)

        services = [s for s in (alert.service, labels.get("service"), labels.get("app")) if s]
        if any(_glob_match(p, s) for p in runbook.services for s in services):
            score += SCORE_SERVICE

        haystack = " ".join([name, _split_camel(name), alert.summary, alert.description]).lower()
        hits = 0
        for keyword in rules.keywords:
            pattern = r"(?<![a-z0-9])" + re.escape(keyword.lower()) + r"(?![a-z0-9])"
            if re.search(pattern, haystack):
                hits += 1
        score += SCORE_KEYWORD * min(hits, MAX_KEYWORD_HITS)
        return score

    # --- presentation -----------------------------------------------------------------------
    def catalogue_text(self) -> str:
        """A compact listing for the cached system prompt; identical bytes for identical files."""
        lines = []
        for runbook in self._runbooks:
            parts = []
            if runbook.match.alertnames:
                parts.append("alerts: " + ", ".join(runbook.match.alertnames[:6]))
            if runbook.match.labels:
                parts.append(
                    "labels: "
                    + ", ".join(
                        f"{k}={'|'.join(v)}" for k, v in sorted(runbook.match.labels.items())
                    )
                )
            if runbook.match.keywords:
                parts.append("keywords: " + ", ".join(runbook.match.keywords[:6]))
            if not parts:
                parts.append("used when no other runbook matches")
            lines.append(f"- {runbook.id}: {runbook.title} ({'; '.join(parts)})")
        return "\n".join(lines) + "\n"

    def ref(self, runbook: Runbook, base_url: str | None) -> RunbookRef:
        """How the runbook is shown and linked: a repo-relative path and an optional URL."""
        url = f"{base_url.rstrip('/')}/{runbook.filename}" if base_url else None
        return RunbookRef(
            id=runbook.id,
            title=runbook.title,
            path=f"{self._directory_name}/{runbook.filename}",
            url=url,
        )
