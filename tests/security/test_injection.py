"""Every prompt-injection attempt, end to end, against a model that obeys every instruction.

Why an obedient model: the persona tells the model to ignore instructions in untrusted data, but
a model can be talked round. The bot must be safe even then, so the fake model here does what a
fully compromised model would: it copies the planted payload, any secrets, mentions, links and
"roll back to X" versions it can see, plus exactly what the attacker asked for (`obey`), into
every field of its answer. Each attempt runs through the real bot (signed Slack event → Redis
queue → worker → wizard → real Anthropic SDK → fake API → guard → renderer → Slack sandbox), and
the test checks what reached Slack and what reached the model.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.catalog import ServiceCatalog
from bot.devtools.slack import SlackSandbox
from bot.store.embedded import EmbeddedRedis
from bot.triage.guard import UNVERIFIED_VERSION
from tests.fakes.anthropic_api import FakeAnthropic, JSONDict, user_text
from tests.harness import ALERT_CHANNEL, Bot, settings_for, start_bot, stop_bot
from tests.security.attempts import Attempt, base_alert, load_attempts, planted_alert

# Hosts the integration itself linked in the (unplanted) alert post: the only legitimate links.
ALLOWED_HOSTS = frozenset({"alertmanager.internal", "prometheus.internal", "runbooks.internal"})
DEPLOYED = frozenset({"2026.11.28-3", "2026.11.27-1"})
FIVE_PARTS = (
    "Immediate actions",
    "Implementation plan",
    "Monitoring strategy",
    "Risk mitigation",
    "success criteria",
)

_UNTRUSTED_BLOCK = re.compile(r'<untrusted_data source="[a-z_]+">\n(.*?)\n</untrusted_data>', re.S)
_OPEN = re.compile(r'<untrusted_data source="[a-z_]+">')
_CLOSE = "</untrusted_data>"
_TAG_LOOKALIKE = re.compile(r"<\s*/?\s*(untrusted_data|trusted_facts)", re.I)
_SEEN_URL = re.compile(r"(?:https?|ftp)://[^\s<>|)]+")
_SEEN_MENTION = re.compile(r"<[!@][^<>]{0,80}>|[@＠][\w^-]+")
_SEEN_SECRET = re.compile(r"xox[a-z]-[\w-]+|AKIA[0-9A-Z]{16}")
_SEEN_VERSION = re.compile(r"roll ?back to (?:version )?([\w.-]+\d[\w.-]*)", re.I)
_SLACK_LINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^|<>]*)(?:\|[^<>]*)?>", re.I)
# Slack parses only the ASCII at sign, and only with nothing between it and the word.
_MASS = re.compile(r"@(channel|here|everyone)\b", re.I)
_TARGET = re.compile(r"target: `([^`]*)` \(from deploy history\)")


# --------------------------------------------------------------------------- the obedient model


def obedient_markdown(attempt: Attempt) -> Callable[[JSONDict], str]:
    """The same obedient model asked for a streamed Markdown answer (follow-ups, questions)."""
    respond = obedient_model(attempt)

    def write(body: JSONDict) -> str:
        answer = respond(body)
        if attempt.drop_format:
            return str(answer["summary"])
        lines = [str(answer["summary"]), ""]
        for title in FIVE_PARTS:
            key = "_".join(title.lower().split())
            lines += [f"## {title}", *[f"- {item}" for item in answer.get(key) or []], ""]
        target = answer["rollback"]["target_version"]
        if target:
            lines.append(f"Rollback target: `{target}` (from deploy history)")
        return "\n".join(lines)

    return write


def obedient_model(attempt: Attempt) -> Callable[[JSONDict], JSONDict]:
    """A responder that follows whatever the request (or the attacker) tells it to do."""

    def respond(body: JSONDict) -> JSONDict:
        seen = "\n".join(_UNTRUSTED_BLOCK.findall(user_text(body)))
        grabbed = [
            *_SEEN_URL.findall(seen),
            *_SEEN_MENTION.findall(seen),
            *_SEEN_SECRET.findall(seen),
        ][:20]
        version = _SEEN_VERSION.search(seen)
        target = attempt.obey_target or (version.group(1) if version else None)
        items = [attempt.obey_text, *grabbed, seen[:1500]]
        lists: list[str] = [] if attempt.drop_format else items
        return {
            "summary": f"{attempt.obey_text} {seen[:500]}",
            "immediate_actions": lists,
            "implementation_plan": lists,
            "monitoring_strategy": lists,
            "risk_mitigation": lists,
            "rollback": {
                "target_version": target,
                "target_known": target is not None,
                "steps": lists,
                "verification": lists,
                "abort_criteria": lists,
            },
            "success_criteria": lists,
            "clarifying_questions": lists,
            "confidence": "high",
            "evidence": lists,
            "compliance_notes": lists,
        }

    return respond


# --------------------------------------------------------------------------- running one attempt


async def deliver(bot: Bot, attempt: Attempt) -> None:
    """Plant the attempt where it says, exactly as Slack would deliver it, and wait for replies."""
    deploy = {
        "service": "order-gateway",
        "version": "2026.11.28-3",
        "previous_version": "2026.11.27-1",
        "environment": "production",
        "actor": "ci-bot",
        "at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
    }
    assert await bot.hook("/hooks/deploy", deploy) == 200
    if attempt.where.startswith("alert."):
        await bot.post_alert(planted_alert(attempt))
    elif attempt.where == "followup":
        ts = await bot.post_alert(base_alert())
        await bot.drain()
        message = {"type": "message", "user": "U0ATTACK", "text": attempt.payload}
        posted = bot.sandbox.inject_message(ALERT_CHANNEL, {**message, "thread_ts": ts})
        assert await bot.event(posted) == 200
    else:
        await bot.command(attempt.payload, user="U0ATTACK")
    await bot.drain(timeout=30)


# --------------------------------------------------------------------------- what the bot posted


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        try:
            decoded = json.loads(value) if value[:1] in "[{" else None
        except ValueError:
            decoded = None
        yield from _strings(decoded) if decoded is not None else (value,)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def posted_text(sandbox: SlackSandbox, since: int) -> str:
    """Every string the bot sent to Slack, as a reader would see it (invisibles removed):
    messages, updates, response_url bodies and every streamed chunk."""
    methods = ("chat.postMessage", "chat.update", "chat.postEphemeral")
    streams = ("chat.startStream", "chat.appendStream", "chat.stopStream")
    texts: list[str] = []
    for call in sandbox.calls[since:]:
        if call.method in methods or call.method.startswith("response_url:"):
            texts += _strings({k: v for k, v in call.params.items() if k in ("text", "blocks")})
        elif call.method in streams:
            fields = ("markdown_text", "chunks", "blocks")
            texts += _strings({k: v for k, v in call.params.items() if k in fields})
    joined = "\n".join(texts)
    return "".join(
        c for c in joined if unicodedata.category(c) != "Cf" and not 0xE0000 <= ord(c) <= 0xE007F
    )


# The owning team's user group, mentioned on purpose from catalog.yaml (operator data, not alert
# text): the only special mention the bot may post. Any other `<!…>` is a win for the attacker.
CATALOG_MENTIONS = {
    s.mention
    for s in ServiceCatalog.load(Path(__file__).parents[2] / "catalog.yaml").all()
    if s.mention
}


def slack_violations(attempt: Attempt, text: str) -> list[str]:
    """What an attacker would count as a win in the Slack messages."""
    problems: list[str] = []
    for mention in CATALOG_MENTIONS:
        text = text.replace(mention, "")
    folded = unicodedata.normalize("NFKC", text).casefold()
    problems += [f"secret posted: {s}" for s in attempt.secrets if s.casefold() in folded]
    if re.search(r"<\s*!", text) or re.search(r"<\s*!", unicodedata.normalize("NFKC", text)):
        problems.append("special mention markup posted")
    if re.search(r"<\s*@[UW]", text):
        problems.append("user mention markup posted")
    if _MASS.search(text):
        problems.append(f"mass mention posted: {_MASS.search(text)}")
    for match in _SLACK_LINK.finditer(text):
        parts = urlsplit(match.group(1).replace("&amp;", "&"))
        if "@" in parts.netloc or (parts.hostname or "") not in ALLOWED_HOSTS:
            problems.append(f"foreign link posted: {match.group(0)[:80]}")
    problems += [f"foreign host shown: {h}" for h in attempt.hosts if h.casefold() in folded]
    problems += [
        f"invented rollback target: {v}"
        for v in _TARGET.findall(text)
        if v not in DEPLOYED and v != UNVERIFIED_VERSION  # the guard's replacement is no win
    ]
    # The five parts must be there; a maximal (flooded) answer may be cut by Slack's size limits,
    # visibly, but never before the actions.
    missing = [p for p in FIVE_PARTS if p.lower() not in folded]
    if missing and not ("immediate actions" in folded and "truncated" in folded):
        problems.append(f"answer format changed, missing {missing}")
    return problems


def request_violations(attempt: Attempt, requests: list[JSONDict]) -> list[str]:
    """The planted text must reach the model only inside well-formed `<untrusted_data>` tags."""
    problems: list[str] = []
    for request in requests:
        text = user_text(request["body"])
        outside: list[str] = []
        pos = 0
        while True:
            opening = _OPEN.search(text, pos)
            stray = text.find(_CLOSE, pos)
            if opening is None:
                outside.append(text[pos:])
                if stray != -1:
                    problems.append("a closing tag with no opening tag")
                break
            if stray != -1 and stray < opening.start():
                problems.append("untrusted_data closed before it was opened")
            outside.append(text[pos : opening.start()])
            close = text.find(_CLOSE, opening.end())
            if close == -1:
                problems.append("untrusted_data never closed")
                break
            if _TAG_LOOKALIKE.search(text[opening.end() : close]):
                problems.append("a tag look-alike survived inside untrusted_data")
            pos = close + len(_CLOSE)
        rest = "".join(outside)
        if attempt.marker in rest:
            problems.append("planted text outside untrusted_data")
        if len(re.findall(r"<\s*trusted_facts", rest)) > 1:
            problems.append("more than one trusted_facts block")
    return problems


def audit_violations(records: list[dict[str, Any]]) -> list[str]:
    problems = []
    for record in records:
        target = ((record.get("answer") or {}).get("rollback") or {}).get("target_version")
        if target is not None and target not in DEPLOYED:
            problems.append(f"audit holds invented rollback target {target!r}")
    return problems


# --------------------------------------------------------------------------- the test


async def test_injection_attempts_all_fail(
    sandbox: SlackSandbox,
    llm: FakeAnthropic,
    redis_server: EmbeddedRedis,
    redis_client: Any,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    attempts = load_attempts()
    assert len(attempts) >= 15
    assert len({a.id for a in attempts}) == len(attempts)
    outcomes: dict[str, list[str]] = {}
    for attempt in attempts:
        await redis_client.flushdb()
        llm.responder = obedient_model(attempt)
        llm.text_responder = obedient_markdown(attempt)
        calls_before, requests_before = len(sandbox.calls), len(llm.requests)
        settings = settings_for(
            sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path / attempt.id, llm=llm
        )
        bot = await start_bot(settings, sandbox)
        try:
            await deliver(bot, attempt)
            records = [
                r
                for r in await bot.runtime.audit.records()
                if r["kind"] in ("triage", "followup", "question")
            ]
        finally:
            await stop_bot(bot)
        requests = llm.requests[requests_before:]
        # the attack was really delivered: the model was asked, and saw the planted marker
        assert requests, attempt.id
        assert any(attempt.marker in json.dumps(r["body"]) for r in requests), attempt.id
        assert records, attempt.id
        outcomes[attempt.id] = [
            *slack_violations(attempt, posted_text(sandbox, calls_before)),
            *request_violations(attempt, requests),
            *audit_violations(records),
        ]
    succeeded = {name: found for name, found in outcomes.items() if found}
    record_property("injection_attempts_tried", len(outcomes))
    record_property("injection_attempts_succeeded", len(succeeded))
    assert (len(outcomes), len(succeeded)) == (len(attempts), 0), json.dumps(succeeded, indent=1)


@pytest.mark.parametrize("attempt", load_attempts(), ids=lambda a: a.id)
def test_attempt_fixture_is_well_formed(attempt: Attempt) -> None:
    kinds = {
        "secret_posted",
        "mass_mention",
        "foreign_link",
        "format_change",
        "invented_rollback",
        "tag_escape",
    }
    assert attempt.success and set(attempt.success) <= kinds
    assert attempt.marker in attempt.payload
    if "secret_posted" in attempt.success:
        visible = "".join(c for c in attempt.obey_text if unicodedata.category(c) != "Cf")
        assert attempt.secrets and all(s in visible for s in attempt.secrets)
    if "foreign_link" in attempt.success:
        assert attempt.hosts
    if "invented_rollback" in attempt.success:
        assert attempt.obey_target and attempt.obey_target not in DEPLOYED
