"""What the fake Messages API says, built the way the real API builds it (no HTTP here).

Why a module apart from the server: the response shape is where the fake must be faithful to the
real service — a signed thinking block before the answer, usage with the cache-write breakdown by
TTL and the thinking share of the output, a truncated answer on `max_tokens`, tool-use turns and
the API's refusal of a tool loop whose thinking blocks were altered or dropped — and a test that
scripts a conversation should read that here, not between socket tricks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

JSONDict = dict[str, Any]
CHARS_PER_TOKEN = 4
_SIGNING_KEY = uuid.uuid4().bytes  # per process: a signature from elsewhere never verifies
_NAME_PATTERNS = (
    re.compile(r"alertname[\"']?\s*[:=]\s*[\"'`]?([A-Za-z][\w.-]+)"),
    re.compile(r"\"name\"\s*:\s*\"([^\"]+)\""),
    re.compile(r"\bname\s*[:=]\s*[\"'`]?([A-Za-z][\w.-]+)"),
    re.compile(r"\b([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)\b"),
)
DEFAULT_THINKING = "The alert names a service; weigh deploy history before advising a rollback."


def tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, len(text) // CHARS_PER_TOKEN)


def user_text(body: JSONDict) -> str:
    """All text of the user turns in a Messages API request body (tool results included)."""
    parts: list[str] = []
    for message in body.get("messages") or []:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for block in content:
                if isinstance(block, dict):
                    inner = block.get("content")
                    parts.append(block.get("text") or (inner if isinstance(inner, str) else ""))
    return "\n".join(parts)


def first_alert_name(text: str) -> str | None:
    """The first thing in `text` that looks like an alert name (alertname=, name:, CamelCase)."""
    for pattern in _NAME_PATTERNS:
        if match := pattern.search(text):
            return match.group(1)
    return None


def sign_thinking(model: str, thinking: str) -> str:
    """A signature bound to model and text, as the real API's is (opaque to clients)."""
    mac = hmac.new(_SIGNING_KEY, f"{model}\n{thinking}".encode(), hashlib.sha256)
    return "EqQB" + mac.hexdigest()


@dataclass
class Scripted:
    """One scripted model turn. Build with the classmethods; `fake.script(...)` queues them."""

    stop_reason: str = "end_turn"
    tool: tuple[str, JSONDict] | None = None
    text: str | None = None
    """Raw answer text; None: the fake's responder writes the JSON answer."""
    cut: bool = False
    """Truncate the answer mid-JSON (what `max_tokens` looks like)."""
    thinking: str | None = DEFAULT_THINKING
    """None: no thinking block."""
    usage: JSONDict | None = None
    """Exact usage to report (merged over the computed one)."""

    @classmethod
    def answer(cls, **kw: Any) -> Scripted:
        return cls(**kw)

    @classmethod
    def tool_use(cls, name: str, tool_input: JSONDict, **kw: Any) -> Scripted:
        return cls(stop_reason="tool_use", tool=(name, tool_input), **kw)

    @classmethod
    def max_tokens(cls, **kw: Any) -> Scripted:
        return cls(stop_reason="max_tokens", cut=True, **kw)

    @classmethod
    def refusal(cls, **kw: Any) -> Scripted:
        return cls(stop_reason="refusal", text="", **kw)

    @classmethod
    def stop(cls, reason: str, **kw: Any) -> Scripted:
        """Any other stop reason (pause_turn, model_context_window_exceeded, …), no answer."""
        return cls(stop_reason=reason, text="", **kw)


@dataclass
class Pace:
    """A generating model's timing: `ttft_s` + output tokens ÷ `tokens_per_s`, where output is
    the thinking the request's effort buys (`thinking_by_effort`; no effort sent = the model's
    default, high) plus `answer_tokens`. Answers past `max_tokens` are cut there, as the API
    does. The figures are inputs (assumptions), not measurements of a real model."""

    ttft_s: float
    tokens_per_s: float
    answer_tokens: int
    thinking_by_effort: dict[str, int]

    def turn(self, body: JSONDict, turn: Scripted) -> Scripted:
        effort = str((body.get("output_config") or {}).get("effort") or "high")
        thinking = self.thinking_by_effort[effort]
        wanted = thinking + self.answer_tokens
        cap = int(body.get("max_tokens") or wanted)
        usage = {
            "output_tokens": min(wanted, cap),
            "output_tokens_details": {"thinking_tokens": min(thinking, cap)},
        }
        if wanted > cap:
            return Scripted.max_tokens(usage=usage)
        return Scripted(stop_reason=turn.stop_reason, text=turn.text, usage=usage)

    def seconds(self, message: JSONDict) -> float:
        return self.ttft_s + int(message["usage"]["output_tokens"]) / self.tokens_per_s


@dataclass
class Conversation:
    """What the fake remembers across turns: the thinking blocks it issued per tool_use id."""

    issued: dict[str, list[JSONDict]] = field(default_factory=dict)

    def check(self, body: JSONDict) -> str | None:
        """The real API's rule for tool loops with thinking: the assistant turn that made a
        tool call must come back with its thinking blocks unchanged (same text, same
        signature, same model). Returns the API's error message, or None."""
        model = str(body.get("model"))
        for i, message in enumerate(body.get("messages") or []):
            content = message.get("content")
            if message.get("role") != "assistant" or not isinstance(content, list):
                continue
            sent = [b for b in content if isinstance(b, dict) and b.get("type") == "thinking"]
            for block in sent:
                if block.get("signature") != sign_thinking(model, str(block.get("thinking"))):
                    return f"messages.{i}.content: Invalid `signature` in `thinking` block"
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    expected = self.issued.get(str(block.get("id")))
                    if expected is not None and sent != expected:
                        return (
                            f"messages.{i}.content: when thinking is enabled, an assistant "
                            "turn with tool_use must start with its thinking blocks, passed "
                            "back unchanged"
                        )
        return None


def tool_results(body: JSONDict) -> list[JSONDict]:
    """The `tool_result` blocks of a request's user turns, in order."""
    found: list[JSONDict] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            found += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return found


def cache_split(body: JSONDict) -> tuple[JSONDict | None, int, str]:
    """The prefix up to the last `cache_control` breakpoint (tools, system), its size and TTL."""
    tools = body.get("tools") or []
    system = body.get("system") or []
    blocks: list[Any] = [*tools, *(system if isinstance(system, list) else [])]
    marked = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")]
    if not marked:
        return None, 0, "5m"
    last = marked[-1]
    ttl = str(blocks[last]["cache_control"].get("ttl") or "5m")
    prefix = {"model": body.get("model"), "blocks": blocks[: last + 1]}
    return prefix, tokens(blocks[: last + 1]), ttl


def build_message(
    body: JSONDict,
    turn: Scripted,
    answer: str,
    *,
    model: str,
    cache: tuple[int, int, str],
    conversation: Conversation,
) -> JSONDict:
    """A complete Messages API response for `turn` (thinking, text or tool_use, usage)."""
    thinking_on = (body.get("thinking") or {}).get("type") not in (None, "disabled")
    content: list[JSONDict] = []
    thought = turn.thinking if thinking_on else None
    if thought is not None:
        content.append(
            {"type": "thinking", "thinking": thought, "signature": sign_thinking(model, thought)}
        )
    text = turn.text if turn.text is not None else answer
    if turn.cut:
        text = text[: max(1, len(text) // 2)]
    if text:
        content.append({"type": "text", "text": text})
    if turn.tool is not None:
        tool_id = f"toolu_{uuid.uuid4().hex[:24]}"
        name, tool_input = turn.tool
        content.append({"type": "tool_use", "id": tool_id, "name": name, "input": tool_input})
        conversation.issued[tool_id] = [b for b in content if b["type"] == "thinking"]
    prefix_tokens, cache_read, ttl = cache
    created = prefix_tokens if cache_read == 0 else 0
    total = tokens({k: body.get(k) for k in ("system", "tools", "messages", "output_config")})
    thinking_tokens = tokens(thought) if thought else 0
    usage: JSONDict = {
        "input_tokens": max(1, total - prefix_tokens) if prefix_tokens else total,
        "output_tokens": thinking_tokens + tokens(json.dumps(content[-1]) if content else ""),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": created if ttl != "1h" else 0,
            "ephemeral_1h_input_tokens": created if ttl == "1h" else 0,
        },
        "output_tokens_details": {"thinking_tokens": thinking_tokens},
        "service_tier": "standard",
        "inference_geo": body.get("inference_geo") or "global",
    }
    usage.update(turn.usage or {})
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": turn.stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


@dataclass
class RateLimits:
    """The `anthropic-ratelimit-*` headers of every response: a per-minute window per limit."""

    requests: int = 4000
    input_tokens: int = 2_000_000
    output_tokens: int = 400_000
    used: dict[str, int] = field(default_factory=dict)
    window: datetime | None = None

    def spend(self, request_tokens: int = 0, output_tokens: int = 0) -> None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        if self.window != now:
            self.window, self.used = now, {}
        self.used["requests"] = self.used.get("requests", 0) + 1
        self.used["input-tokens"] = self.used.get("input-tokens", 0) + request_tokens
        self.used["output-tokens"] = self.used.get("output-tokens", 0) + output_tokens

    def headers(self, exhausted: bool = False) -> dict[str, str]:
        reset = (self.window or datetime.now(UTC)) + timedelta(minutes=1)
        stamp = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
        limits = {
            "requests": self.requests,
            "input-tokens": self.input_tokens,
            "output-tokens": self.output_tokens,
            "tokens": self.input_tokens + self.output_tokens,
        }
        used = dict(self.used)
        used["tokens"] = used.get("input-tokens", 0) + used.get("output-tokens", 0)
        out: dict[str, str] = {}
        for name, limit in limits.items():
            left = 0 if exhausted else max(0, limit - used.get(name, 0))
            out[f"anthropic-ratelimit-{name}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{name}-remaining"] = str(left)
            out[f"anthropic-ratelimit-{name}-reset"] = stamp
        return out


def model_info(model: str) -> JSONDict:
    """`GET /v1/models/{id}` for a model the fake serves."""
    return {
        "type": "model",
        "id": model,
        "display_name": model.replace("-", " ").title(),
        "created_at": "2026-09-28T00:00:00Z",
        "lifecycle": "active",
        "max_input_tokens": 1_000_000,
        "max_tokens": 128_000,
    }


def schema_violations(value: Any, schema: JSONDict, root: JSONDict | None = None) -> list[str]:
    """A small JSON-schema check (the subset the SDK's transformed pydantic schemas use)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return schema_violations(value, root.get("$defs", {}).get(name, {}), root)
    if "anyOf" in schema:
        options = [schema_violations(value, option, root) for option in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"no anyOf branch matches {value!r:.60}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{value!r} not in {schema['enum']}"]
    kinds: dict[str, type | tuple[type, ...]] = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "integer": int,
        "number": (int, float),
        "null": type(None),
    }
    kind = schema.get("type")
    if isinstance(kind, str) and kind in kinds and not isinstance(value, kinds[kind]):
        return [f"expected {kind}, got {type(value).__name__}"]
    errors: list[str] = []
    if isinstance(value, dict):
        props: JSONDict = schema.get("properties", {})
        errors += [f"missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"unexpected {k}" for k in value if k not in props]
        for key, sub in value.items():
            if key in props:
                errors += [f"{key}: {e}" for e in schema_violations(sub, props[key], root)]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += [f"[{i}]: {e}" for e in schema_violations(item, schema["items"], root)]
    return errors


def triage_answer(body: JSONDict, rollback_target: str | None = None) -> JSONDict:
    """A plausible TriageAnswer that quotes the first alert name found in the user turn."""
    name = first_alert_name(user_text(body)) or "the reported issue"
    target = rollback_target
    return {
        "summary": f"{name} is firing; impact is being assessed (fake model answer).",
        "immediate_actions": [f"Acknowledge {name} and check its dashboard."],
        "implementation_plan": [f"Find the change that triggered {name} and revert it."],
        "monitoring_strategy": [f"Watch the metric behind {name} for 15 minutes."],
        "risk_mitigation": ["Change one thing at a time; keep the previous build warm."],
        "rollback": {
            "target_version": target,
            "target_known": target is not None,
            "steps": ["Redeploy the previous version."] if target else [],
            "verification": ["Error rate and latency back under SLO."],
            "abort_criteria": ["The rollback itself raises errors."],
        },
        "success_criteria": [f"{name} resolved and stays resolved for 15 minutes."],
        "clarifying_questions": [],
        "confidence": "medium",
        "evidence": [f"alert {name}"],
        "compliance_notes": ["Record the change in the change log."],
    }


def sse_events(message: JSONDict) -> list[tuple[str, JSONDict]]:
    """A complete message as the Messages API streams it (`stream: true`)."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, JSONDict]] = [("message_start", {"message": start})]
    for i, block in enumerate(message["content"]):
        kind = block["type"]
        deltas: list[JSONDict] = []
        if kind == "thinking":
            first: JSONDict = {"type": kind, "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": block["thinking"]},
                {"type": "signature_delta", "signature": block["signature"]},
            ]
        elif kind == "text":
            first = {"type": kind, "text": ""}
            text = block["text"]
            deltas = [
                {"type": "text_delta", "text": text[n : n + 40]} for n in range(0, len(text), 40)
            ]
        else:
            first = block
        events.append(("content_block_start", {"index": i, "content_block": first}))
        events += [("content_block_delta", {"index": i, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"index": i}))
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(
        ("message_delta", {"delta": stop, "usage": {"output_tokens": usage["output_tokens"]}})
    )
    events.append(("message_stop", {}))
    return [(kind, {"type": kind, **data}) for kind, data in events]
