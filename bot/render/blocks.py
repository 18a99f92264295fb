"""Block Kit rendering: a `TriageResult` (and the small status/help replies) as Slack blocks.

Pure functions, no I/O, so every reply the bot can post is testable without Slack. Two jobs
besides layout:

- Everything that comes from an alert or from the model is untrusted. `escape_mrkdwn` escapes
  `&`, `<`, `>` so such text can never become Slack markup (`<!channel>`, `<@U…>`,
  `<http://evil|click here>`), and drops zero-width/bidi/control characters that could hide or
  reorder text. The only links in a message are the ones built here by `link`, and only for
  http(s) URLs.
- Slack's limits are enforced in one place, `fit_blocks`: ≤ 50 blocks, ≤ 3000 characters per
  section, ≤ 150 per header, ≤ 2000 per context element and ≤ 10 elements, ≤ 10 section fields,
  no empty texts. Slack also rejects messages whose blocks hold more than roughly 12k characters
  in total (`msg_blocks_too_long`, undocumented; see slackapi/bolt-js#2509 and #2867), so the
  total is budgeted too. Long parts are split at line boundaries; what still does not fit is cut
  with a visible "…truncated" note instead of Slack rejecting the whole answer mid-incident.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from bot.models import SEVERITY_RANK, Alert, AlertRecord, Deploy, TriageResult
from bot.text import CONTROL, INVISIBLE, clean_text
from bot.triage.rollback import rollback_note

Block = dict[str, Any]
Blocks = list[Block]

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_CONTEXT_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK = 3000
# Slack's undocumented cumulative limit is ~12k characters of block text; stay well below it.
MAX_TOTAL_TEXT = 10_000
MAX_STATUS_LINES = 20
MAX_URL = 1000
# Per-item caps, so one runaway field (a 100 kB summary, a stack trace as the fallback reason)
# cannot eat the whole message budget before the actions are shown. The audit keeps the full text.
MAX_SUMMARY = 1500
MAX_ITEM = 1000
MAX_META = 300

NONE = "_none_"
TRUNCATION_HINT = "see the audit record / `wizard triage` output"

_SAFE_URL = re.compile(r"^https?://[^\s<>|\"'`\\]+$", re.IGNORECASE)
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")
_PLAIN_MASS_MENTION = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)

_SEVERITY_ICON = {
    "critical": "🔴",
    "high": "🟠",
    "warning": "🟡",
    "info": "🔵",
    "unknown": "⚪",
}


# --------------------------------------------------------------------------- text primitives


def escape_mrkdwn(text: object) -> str:
    """Make untrusted text inert in Slack mrkdwn: escape `&`, `<`, `>`, drop invisibles.

    A plain `@here`/`@channel`/`@everyone` becomes `＠here` (fullwidth at sign): it reads the same
    but no client or `link_names` re-parse turns it into a mass mention.
    """
    value = _PLAIN_MASS_MENTION.sub("＠", clean_text(text))
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) URL that cannot break out of `<url|label>`, else None."""
    if not url:
        return None
    value = url.strip()
    if len(value) > MAX_URL or INVISIBLE.search(value) or CONTROL.search(value):
        return None
    if not _SAFE_URL.match(value):
        return None
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        return None  # `https://runbooks.internal@evil.example/` shows one host, opens another
    # `&` is the one character of a URL Slack wants entity-encoded inside `<…>`.
    return value.replace("&", "&amp;")


def link(url: str | None, label: str) -> str:
    """A Slack link for an http(s) URL; otherwise just the escaped label (never raw markup)."""
    text = escape_mrkdwn(label).replace("|", "¦").replace("\n", " ").strip() or "link"
    href = safe_url(url)
    return f"<{href}|{text}>" if href else text


def _safe_cut_index(text: str, limit: int) -> int:
    """An index ≤ limit that does not split an `&amp;`-style entity or a `<…>` link we built."""
    cut = limit
    match = _ENTITY_TAIL.search(text[max(0, cut - 4) : cut])
    if match:
        cut = max(0, cut - 4) + match.start()
    opening = text.rfind("<", max(0, cut - MAX_URL - 200), cut)
    if opening > 0 and text.find(">", opening, cut) == -1:
        cut = opening
    return cut if cut > 0 else limit


def _cut(text: str, limit: int, *, markup: bool = True) -> str:
    """At most `limit` characters, ending in "…" when anything was cut.

    With `markup` (mrkdwn text) the cut never splits an entity or a link; plain text is cut as is.
    """
    if len(text) <= limit:
        return text
    end = _safe_cut_index(text, limit - 1) if markup else limit - 1
    return text[:end].rstrip() + "…"


def _split(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split at line boundaries into chunks of at most `limit` characters.

    A single line longer than `limit` is cut at a space when there is one near the end, never
    inside an entity or a link.
    """
    chunks: list[str] = []
    current = ""
    for raw in text.split("\n"):
        line = raw
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            cut = _safe_cut_index(line, limit)
            space = line.rfind(" ", limit // 2, cut)
            if space > 0:
                cut = space
            chunks.append(line[:cut])
            line = line[cut:].lstrip(" ")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


# --------------------------------------------------------------------------- block builders


def header(text: str) -> Block:
    """A header block: one line of plain text.

    Slack does not parse markup in plain_text, but the header carries alert names verbatim, so
    `<`/`>` become look-alike angle quotes anyway: no client can ever read them as a mention.
    """
    plain = " ".join(_PLAIN_MASS_MENTION.sub("＠", clean_text(text)).split())
    plain = plain or "Infrastructure Wizard"
    plain = plain.replace("<", "‹").replace(">", "›")
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": _cut(plain, MAX_HEADER, markup=False),
            "emoji": True,
        },
    }


def section(mrkdwn: str) -> Block:
    """A mrkdwn section; the caller escapes untrusted parts, `fit_blocks` enforces the limits."""
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": mrkdwn if mrkdwn.strip() else NONE},
    }


def context(*texts: str) -> Block:
    """A context block of mrkdwn elements; blank texts are skipped."""
    elements = [{"type": "mrkdwn", "text": t} for t in texts if t and t.strip()]
    return {"type": "context", "elements": elements}


def divider() -> Block:
    return {"type": "divider"}


# --------------------------------------------------------------------------- limits


def _text_of(obj: Any) -> str:
    text = obj.get("text") if isinstance(obj, dict) else None
    return text if isinstance(text, str) else ""


def _block_chars(block: Block) -> int:
    """Characters of text a block carries, as counted against Slack's cumulative budget."""
    kind = block.get("type")
    if kind in ("section", "header"):
        return len(_text_of(block.get("text"))) + sum(
            len(_text_of(f)) for f in block.get("fields") or []
        )
    if kind == "context":
        return sum(len(_text_of(e)) for e in block.get("elements") or [])
    return 0


def _block_lines(block: Block) -> int:
    """How many lines of content a block holds, for the "…truncated: N more lines" note."""
    kind = block.get("type")
    if kind in ("section", "header"):
        text = _text_of(block.get("text"))
        lines = len([line for line in text.split("\n") if line.strip()])
        return lines + len(block.get("fields") or [])
    if kind == "context":
        return 1
    return 0


def _normalize(block: Block) -> Blocks:
    """One block made valid on its own: split, cut or dropped (never an empty text)."""
    kind = block.get("type")
    if kind == "header":
        return [header(_text_of(block.get("text")))]
    if kind == "section":
        out: Blocks = []
        text_obj = block.get("text")
        if isinstance(text_obj, dict):
            text = _text_of(text_obj)
            if text_obj.get("type") == "plain_text":
                chunks = [_cut(text, MAX_SECTION, markup=False)] if text.strip() else []
                out += [{"type": "section", "text": {**text_obj, "text": c}} for c in chunks]
            else:
                out += [section(chunk) for chunk in _split(text)]
        fields = [
            {**f, "text": _cut(_text_of(f), MAX_FIELD)}
            for f in block.get("fields") or []
            if isinstance(f, dict) and _text_of(f).strip()
        ]
        for start in range(0, len(fields), MAX_FIELDS):
            out.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
        if not out:
            out.append(section(NONE))
        extra = {k: v for k, v in block.items() if k not in ("type", "text", "fields", "block_id")}
        if extra:
            out[0] = {**out[0], **extra}
        return out
    if kind == "context":
        elements = []
        for element in block.get("elements") or []:
            if not isinstance(element, dict):
                continue
            if element.get("type") in ("mrkdwn", "plain_text"):
                text = _text_of(element)
                if not text.strip():
                    continue
                element = {**element, "text": _cut(text, MAX_CONTEXT_TEXT)}
            elements.append(element)
        return [
            {"type": "context", "elements": elements[start : start + MAX_CONTEXT_ELEMENTS]}
            for start in range(0, len(elements), MAX_CONTEXT_ELEMENTS)
        ]
    return [block]


def _take_lines(text: str, budget: int) -> tuple[str, int]:
    """The leading whole lines of `text` that fit in `budget` characters, and lines left over."""
    lines = text.split("\n")
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = len(line) + (1 if kept else 0)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    left = len([line for line in lines[len(kept) :] if line.strip()])
    return "\n".join(kept), left


def truncation_note(lines: int) -> Block:
    plural = "" if lines == 1 else "s"
    return context(f"…truncated: {lines} more line{plural}, {TRUNCATION_HINT}")


def fit_blocks(
    blocks: Sequence[Block],
    *,
    keep_last: int = 0,
    max_blocks: int = MAX_BLOCKS,
    max_chars: int = MAX_TOTAL_TEXT,
) -> Blocks:
    """Enforce Slack's limits on a message: the one place they live.

    Every block is normalized (sections split at line boundaries, headers/contexts cut, empty
    texts replaced or dropped). If the message then has more than `max_blocks` blocks or more
    than `max_chars` characters of text, the body is cut at a line boundary and a final context
    block says how many lines were left out. The last `keep_last` input blocks (the footer with
    model and cost) are kept whatever happens, just before that note.
    """
    keep_last = max(0, min(keep_last, len(blocks)))
    split_at = len(blocks) - keep_last
    body = [out for block in blocks[:split_at] for out in _normalize(block)]
    tail = [out for block in blocks[split_at:] for out in _normalize(block)]
    total = sum(_block_chars(b) for b in body) + sum(_block_chars(b) for b in tail)
    if len(body) + len(tail) <= max_blocks and total <= max_chars:
        return body + tail

    note_reserve = len(truncation_note(10**9)["elements"][0]["text"])
    room_blocks = max_blocks - len(tail) - 1
    room_chars = max_chars - sum(_block_chars(b) for b in tail) - note_reserve
    if room_blocks < 1 or room_chars < 1:  # a tail that alone breaks the limits is body too
        body, tail = body + tail, []
        room_blocks, room_chars = max_blocks - 1, max_chars - note_reserve

    kept: Blocks = []
    used = 0
    index = 0
    while index < len(body):
        cost = _block_chars(body[index])
        if len(kept) >= room_blocks or used + cost > room_chars:
            break
        kept.append(body[index])
        used += cost
        index += 1
    dropped_lines = sum(_block_lines(b) for b in body[index:])
    if index < len(body) and len(kept) < room_blocks:
        # Keep the leading lines of the first block that does not fit whole.
        block = body[index]
        text_obj = block.get("text")
        if block.get("type") == "section" and isinstance(text_obj, dict):
            head, left = _take_lines(_text_of(text_obj), room_chars - used)
            if head.strip() and not block.get("fields"):
                kept.append({**block, "text": {**text_obj, "text": head}})
                dropped_lines -= _block_lines(block) - left
    while kept and kept[-1].get("type") == "divider":
        kept.pop()
    return [*kept, *tail, truncation_note(max(dropped_lines, 1))]


# --------------------------------------------------------------------------- formatting helpers


def _bullets(items: Iterable[str], *, numbered: bool = False) -> str:
    """Escaped list lines ("1. …" or "• …"); blank items skipped; "_none_" when nothing is left."""
    lines: list[str] = []
    for item in items:
        text = _cut(escape_mrkdwn(item).strip(), MAX_ITEM)
        if not text:
            continue
        marker = f"{len(lines) + 1}." if numbered else "•"
        lines.append(f"{marker} " + text.replace("\n", "\n    "))
    return "\n".join(lines) if lines else NONE


def _part(title: str, body: str) -> Block:
    return section(f"*{title}*\n{body}")


def money(value: Decimal | None) -> str:
    """Dollars to four places (`$0.0123`); `<$0.0001` for a real but tiny cost; `unknown` for a
    model without a published price (bot/triage/prices.yaml)."""
    if value is None:
        return "unknown"
    try:
        if not value.is_finite():
            return "$?"
        if Decimal(0) < value < Decimal("0.0001"):
            return "<$0.0001"
        return f"${value.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}"
    except (InvalidOperation, AttributeError):
        return "$?"


def duration_ms(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _code(text: str) -> str:
    """Untrusted text as inline code (a version, a model id): escaped, no backticks."""
    return "`" + escape_mrkdwn(text).replace("`", "'").replace("\n", " ") + "`"


def known_rollback_version(result: TriageResult) -> str | None:
    """The rollback version to show, or None: only a version taken from deploy history counts."""
    plan = result.answer.rollback
    if plan.target_version and plan.target_version.strip() and plan.target_known:
        return plan.target_version
    return None


def rollback_target(result: TriageResult) -> str:
    """The rollback target as mrkdwn: only a version taken from deploy history is ever shown."""
    version = known_rollback_version(result)
    if version is not None:
        return f"{_code(version)} (from deploy history)"
    return "*unknown — confirm from deploy history* before rolling back"


def footer_text(result: TriageResult) -> str:
    """Model, latency, tokens and cost: what the answer cost, visible to the people using it."""
    usage = result.usage
    parts = [
        (
            f"model {_code(_cut(result.model, MAX_META, markup=False))}"
            if result.model
            else "no model (runbook fallback)"
        ),
        f"latency {duration_ms(result.latency_ms)}",
        (
            f"tokens in {usage.input_tokens:,} · out {usage.output_tokens:,} · "
            f"cache read {usage.cache_read_input_tokens:,} · "
            f"cache write {usage.cache_creation_input_tokens:,}"
        ),
        f"cost {money(usage.cost_usd)}",
    ]
    if result.prompt_hash:
        parts.append(f"prompt {_code(result.prompt_hash[:12])}")
    return " · ".join(parts)


def _alert_facts(alert: Alert | None, confidence: str) -> str:
    facts: list[str] = []
    if alert is not None:
        facts += [
            alert.source,
            f"severity {alert.severity}",
            f"service {_cut(alert.service or 'unknown', MAX_META, markup=False)}",
            f"env {_cut(alert.environment or 'unknown', MAX_META, markup=False)}",
        ]
        if alert.status == "resolved":
            facts.append("resolved")
    facts.append(f"confidence {confidence}")
    return escape_mrkdwn(" · ".join(facts))


def _alert_links(alert: Alert | None) -> str:
    if alert is None:
        return ""
    candidates = (
        (alert.links.source, "source"),
        (alert.links.dashboard, "dashboard"),
        (alert.links.runbook, "alert runbook"),
    )
    return " · ".join(link(url, label) for url, label in candidates if safe_url(url))


def _fallback(*parts: str) -> str:
    """The notification text: short, escaped by the caller, never empty."""
    text = "\n".join(p for p in parts if p and p.strip()) or "Infrastructure Wizard"
    return _cut(text, MAX_FALLBACK)


# --------------------------------------------------------------------------- replies


def _deploy_line(deploy: Deploy) -> str:
    when = deploy.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    change = f"{deploy.previous_version or '?'} → {deploy.version}"
    how = f" ({deploy.strategy})" if deploy.strategy else ""
    return escape_mrkdwn(
        f"{when} · {deploy.service} {change} · {deploy.environment} · by {deploy.actor}{how}"
    )


def what_changed(deploys: Sequence[Deploy], service: str | None, window_h: float) -> Block:
    """Deploys to the affected service in the window, newest first: who changed what, when."""
    if deploys:
        lines = [f"• {_deploy_line(d)}" for d in deploys[:5]]
        if len(deploys) > 5:
            lines.append(f"…and {len(deploys) - 5} earlier")
        body = "\n".join(lines)
    else:
        name = escape_mrkdwn(service or "this service")
        body = f"_No deploy of {name} recorded in the last {window_h:g} h (via /hooks/deploy)._"
    return section(f"*What changed*\n{body}")


def render_triage(
    result: TriageResult,
    *,
    alert: Alert | None = None,
    heading: str | None = None,
    facts: Sequence[str] = (),
    changes: Sequence[Deploy] | None = None,
    changes_window_h: float = 24.0,
    measured: Block | None = None,
    hide_evidence: Collection[str] = (),
) -> tuple[Blocks, str]:
    """The wizard's five-part answer as blocks, and a short plain-text fallback.

    `facts` are trusted one-liners (market session, freeze, owner/impact) shown under the
    header; `changes` the deploy history that fed the rollback plan ("what changed");
    `measured` the evidence pack's section (`bot/render/evidence.py`), shown under the summary,
    whose lines in the answer's evidence (`hide_evidence`) are then not listed twice."""
    answer = result.answer
    if heading:
        title = heading
    elif alert is not None:
        title = f"Wizard triage: {alert.name}"
    else:
        title = "Wizard answer"
    blocks: Blocks = [
        header(f"🧙 {title}"),
        context(_alert_facts(alert, answer.confidence), _alert_links(alert)),
    ]
    if facts:
        blocks.append(context(*[escape_mrkdwn(f) for f in facts]))
    if result.fallback:
        reason = _cut(
            escape_mrkdwn(result.fallback_reason or "no reason recorded").strip(), MAX_META
        )
        blocks.append(
            section(
                f"⚠️ *Runbook fallback* — the model was unavailable: {reason or 'unknown'}\n"
                "_This answer comes from the matched runbook, not from the model._"
            )
        )
    summary = _cut(escape_mrkdwn(answer.summary).strip(), MAX_SUMMARY)
    blocks.append(section(summary or "_No summary given._"))
    if measured is not None:
        blocks.append(measured)
    blocks.append(_part("Immediate actions", _bullets(answer.immediate_actions, numbered=True)))
    blocks.append(_part("Implementation plan", _bullets(answer.implementation_plan, numbered=True)))
    blocks.append(_part("Monitoring strategy", _bullets(answer.monitoring_strategy)))
    blocks.append(_part("Risk mitigation", _bullets(answer.risk_mitigation)))
    if changes is not None:
        blocks.append(what_changed(changes, alert.service if alert else None, changes_window_h))
    plan = answer.rollback
    meta = [f"strategy {_code(plan.strategy)}"] if plan.strategy != "unknown" else []
    if plan.deploy is not None:
        meta.append("suspect deploy: " + _deploy_line(plan.deploy))
    if plan.blast_radius:
        meta.append("blast radius: " + _cut(escape_mrkdwn(plan.blast_radius), MAX_ITEM))
    note = rollback_note(plan)
    blocks.append(
        section(
            f"*Rollback plan* — target: {rollback_target(result)}\n"
            + ("".join(f"{m}\n" for m in meta))
            + (f"_{escape_mrkdwn(note)}_\n" if note else "")
            + (
                f"*Preconditions:*\n{_bullets(plan.preconditions)}\n"
                if any(p.strip() for p in plan.preconditions)
                else ""
            )
            + f"*Steps:*\n{_bullets(plan.steps, numbered=True)}\n"
            f"*Verification:*\n{_bullets(plan.verification)}\n"
            f"*Abort criteria:*\n{_bullets(plan.abort_criteria)}"
        )
    )
    blocks.append(
        _part("Performance benchmarks / success criteria", _bullets(answer.success_criteria))
    )
    for title_, items in (
        ("Clarifying questions", answer.clarifying_questions),
        ("Evidence", [e for e in answer.evidence if e not in hide_evidence]),
        ("Compliance notes", answer.compliance_notes),
        ("Notes", result.notes),
    ):
        if any(str(item).strip() for item in items):
            blocks.append(_part(title_, _bullets(items)))
    if result.runbook is not None:
        ref = result.runbook
        label = ref.title.strip() or ref.id
        shown = (
            link(ref.url, label)
            if safe_url(ref.url)
            else f"{escape_mrkdwn(label)} ({_code(ref.id)})"
        )
        blocks.append(section(f"📖 *Runbook:* {shown}"))
    blocks.append(divider())
    blocks.append(context(footer_text(result)))

    first_actions = [a for a in answer.immediate_actions if a.strip()][:3]
    text = _fallback(
        escape_mrkdwn(f"🧙 {title}") + (" (runbook fallback)" if result.fallback else ""),
        _cut(escape_mrkdwn(answer.summary).strip(), 500),
        (
            "Do now: " + "; ".join(_cut(escape_mrkdwn(a).strip(), 200) for a in first_actions)
            if first_actions
            else ""
        ),
    )
    return fit_blocks(blocks, keep_last=2), text


def render_placeholder(
    alert: Alert | None, note: str = "pulling context, asking the wizard"
) -> tuple[Blocks, str]:
    """The message people see within a second, replaced in place by the answer."""
    subject = escape_mrkdwn(alert.name).strip() if alert else ""
    text = f"🧙 Looking into {subject or 'it'}… ({escape_mrkdwn(note).strip() or 'working'})"
    return fit_blocks([section(text)]), _fallback(text)


def render_help() -> tuple[Blocks, str]:
    """`/wizard help`."""
    # Written as plain text and escaped: a raw `<question>` would be read by Slack as a link.
    text = escape_mrkdwn(
        "• `/wizard <question>` — ask any infrastructure question\n"
        "• `/wizard status` — open alerts the wizard knows about\n"
        "• `/wizard runbook <name|search>` — show a runbook (no argument lists them)\n"
        "• `/wizard freeze on [for 2h|until <ISO time>] [services a,b] [venues LSE] [reason]`, "
        "`/wizard freeze off`, `/wizard freeze status` — the manual change freeze\n"
        "• `/wizard help` — this message\n"
        "Alerts posted in watched channels are triaged in their thread. Mention @wizard in an "
        "alert thread to ask a follow-up; the wizard answers with that alert's context."
    )
    blocks = [header("🧙 Infrastructure Wizard"), section(text)]
    fallback = escape_mrkdwn(
        "Infrastructure Wizard: /wizard <question> | status | runbook | freeze on|off|status | help"
    )
    return fit_blocks(blocks), fallback


def _since(when: datetime, now: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    minutes = max(0, int((now - when).total_seconds() // 60))
    if minutes >= 24 * 60:
        return f"{minutes // (24 * 60)}d{(minutes // 60) % 24:02d}h"
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes}m"


def thread_url(channel: str, thread_ts: str) -> str:
    return "https://slack.com/app_redirect?" + urlencode(
        {"channel": channel, "message_ts": thread_ts}
    )


def render_status(
    records: list[AlertRecord], *, now: datetime | None = None, incidents: Blocks | None = None
) -> tuple[Blocks, str]:
    """`/wizard status`: open incidents (`incidents`, pre-rendered), then open alerts, most
    severe first, at most 20 lines."""
    if not records:
        return fit_blocks([*(incidents or []), section("No open alerts 🎉")]), "No open alerts 🎉"
    current = now or datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)

    def order(record: AlertRecord) -> tuple[int, float]:
        first = record.first_seen
        stamp = (first if first.tzinfo else first.replace(tzinfo=UTC)).timestamp()
        return (SEVERITY_RANK.get(record.alert.severity, 9), stamp)

    ordered = sorted(records, key=order)
    lines: list[str] = []
    for record in ordered[:MAX_STATUS_LINES]:
        alert = record.alert
        where = (
            " · " + link(thread_url(record.channel, record.thread_ts), "thread")
            if record.channel and record.thread_ts
            else ""
        )
        name = _cut(" ".join(escape_mrkdwn(alert.name).split()), 150) or "alert"
        service = _cut(escape_mrkdwn(alert.service or "unknown service"), 100)
        lines.append(
            f"{_SEVERITY_ICON.get(alert.severity, '⚪')} *{name}* — {alert.severity} · "
            f"{service} · since {_since(record.first_seen, current)} · "
            f"×{record.occurrences}{where}"
        )
    if len(ordered) > MAX_STATUS_LINES:
        lines.append(f"…and {len(ordered) - MAX_STATUS_LINES} more")
    count = f"{len(records)} open alert{'' if len(records) == 1 else 's'}"
    blocks = [header(f"🧙 {count}"), *(incidents or []), section("\n".join(lines))]
    return fit_blocks(blocks), count


def render_runbook(
    title: str, sections: dict[str, list[str]], url: str | None
) -> tuple[Blocks, str]:
    """`/wizard runbook <name>`: the runbook's sections as lists, and a link to the source."""
    blocks: Blocks = [header(f"📖 {title}")]
    for name, items in sections.items():
        blocks.append(_part(escape_mrkdwn(name).strip() or "Section", _bullets(items)))
    if not sections:
        blocks.append(section("_This runbook has no sections._"))
    if safe_url(url):
        blocks.append(context(link(url, "Open the full runbook")))
    elif url and url.strip():
        blocks.append(context(f"Source: {escape_mrkdwn(url)}"))
    return fit_blocks(blocks), _fallback(escape_mrkdwn(f"📖 Runbook: {title}"))


def render_error(text: str) -> tuple[Blocks, str]:
    """A polite error reply; the text is escaped like everything else."""
    detail = escape_mrkdwn(text).strip() or "something went wrong."
    message = f"🧙 Sorry — {detail}"
    return fit_blocks([section(message)]), _fallback(message)
