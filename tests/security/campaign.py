"""Outside-in leak campaign: plant 26 kinds of secrets and trading identifiers at every entry
point of a `wizard serve`-equivalent bot, then look into every sink.

Run it as a script (`.venv/bin/python -m tests.security.campaign [out.json]`): it prints a JSON
report per sink, entry point and kind. It runs in its own process so logging can be configured
at DEBUG from the start, exactly as `wizard serve` would with `WIZARD_LOG_LEVEL=DEBUG`, and the
log stream it inspects is the real handler's output. The bot uses the embedded Redis under its
data dir (no `REDIS_URL`), as a fresh install does; the data dir sits in a world-traversable
directory so the lockdown's own file modes are what another user meets.

Entry points: alert posts, edits (message_changed), thread follow-ups, `/wizard` questions,
`/wizard freeze on` reasons, the Alertmanager hook, the deploy hook, button payloads and
mentions. Sinks: model requests, Slack Web API posts, response_url posts, HTTP ack bodies, logs
at DEBUG, the audit stream and file, every Redis value, the AOF files and every other file in
the data dir. The fake model is an obedient echo: it copies the prompt into its answer, the worst
case for what reaches Slack.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.devtools.slack import SlackSandbox
from bot.logs import configure_logging
from tests.fakes.anthropic_api import FakeAnthropic, user_text
from tests.fakes.signing import block_actions_body, event_body, slash_body
from tests.harness import (
    ALERT_CHANNEL,
    ASK_CHANNEL,
    HOOK_TOKEN,
    Bot,
    settings_for,
    start_bot,
    stop_bot,
)
from tests.security import sinks
from tests.security.attempts import base_alert
from tests.security.plants import Plant, chunks, joined, plants_for

ENTRIES = (
    "alert_post",
    "alert_edit",
    "followup",
    "question",
    "freeze_reason",
    "alertmanager_hook",
    "deploy_hook",
    "button",
    "mention",
)
SHOWN_TO_PEOPLE = ("slack_posts", "slack_response_url")
"""Where trading identifiers are re-hydrated on purpose (the humans need the real account)."""


def echo_answer(body: dict[str, Any]) -> dict[str, Any]:
    """An obedient model: it repeats its whole prompt back as 'immediate actions'."""
    text = user_text(body)
    pieces = [text[i : i + 1500] for i in range(0, len(text), 1500)][:20] or ["nothing"]
    return {
        "summary": "Echoing what I was given.",
        "immediate_actions": pieces,
        "implementation_plan": ["Follow the runbook."],
        "monitoring_strategy": ["Watch the error rate."],
        "risk_mitigation": ["Keep the previous build warm."],
        "rollback": {
            "target_version": None,
            "target_known": False,
            "steps": [],
            "verification": [],
            "abort_criteria": [],
        },
        "success_criteria": ["Alert resolved."],
        "clarifying_questions": [],
        "confidence": "low",
        "evidence": [],
        "compliance_notes": [],
    }


class Driver:
    """Sends every planted request and keeps the HTTP bodies the bot answered with (acks)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.acks: list[str] = []
        self.statuses: list[int] = []
        self.n = 0

    async def signed(self, body: str, content_type: str) -> None:
        status, text = await self.bot.post_signed(body, content_type)
        self.statuses.append(status)
        self.acks.append(text)

    async def event(self, event: dict[str, Any]) -> None:
        self.n += 1
        await self.signed(event_body(event, event_id=f"EvCamp{self.n:06d}"), "application/json")

    async def command(self, text: str) -> None:
        self.n += 1
        body = slash_body(
            text,
            user_id="U0ONCALL",
            channel_id=ASK_CHANNEL,
            response_url=self.bot.sandbox.response_url(f"camp{self.n}"),
        )
        await self.signed(body, "application/x-www-form-urlencoded")

    async def hook(self, path: str, payload: Any) -> None:
        headers = {"Authorization": f"Bearer {HOOK_TOKEN}"}
        async with self.bot.session.post(
            f"{self.bot.base}{path}", json=payload, headers=headers
        ) as response:
            self.statuses.append(response.status)
            self.acks.append(await response.text())


def alert_message(service: str, text: str) -> dict[str, Any]:
    message = base_alert()
    att = message["attachments"][0]
    description = att["text"].split("*Description:* ", 1)[1].split("\n", 1)[0]
    att["text"] = att["text"].replace(description, text).replace("order-gateway", service)
    att["title"] = att["title"].replace("order-gateway", service)
    att["fallback"] = att["fallback"].replace("order-gateway", service)
    return message


async def plant_everything(driver: Driver, planted: dict[str, list[Plant]]) -> None:
    bot = driver.bot
    now = datetime.now(UTC).isoformat()
    for k, p in enumerate(planted["deploy_hook"]):
        deploy = {"service": "svc-alert-0", "version": f"2.0.{k}", "actor": p.text[:200], "at": now}
        await driver.hook("/hooks/deploy", deploy)
    posted: list[str] = []
    for c, group in enumerate(chunks(planted["alert_post"])):
        message = bot.sandbox.inject_message(
            ALERT_CHANNEL, alert_message(f"svc-alert-{c}", joined(group))
        )
        posted.append(str(message["ts"]))
        await driver.event(message)
    await bot.settle(60)
    for c, group in enumerate(chunks(planted["alert_edit"])):
        edited = alert_message(f"svc-alert-{c}", joined(group)) | {"ts": posted[c]}
        await driver.event(
            {
                "type": "message",
                "subtype": "message_changed",
                "channel": ALERT_CHANNEL,
                "ts": f"{time.time():.6f}",
                "hidden": True,
                "message": edited,
                "previous_message": {"type": "message", "ts": posted[c], "text": "before"},
            }
        )
    for group in chunks(planted["followup"]):
        reply = bot.sandbox.inject_message(
            ALERT_CHANNEL,
            {"type": "message", "user": "U0ONCALL", "text": joined(group)}
            | {"thread_ts": posted[0]},
        )
        await driver.event(reply)
    for group in chunks(planted["question"]):
        await driver.command("what now about " + joined(group))
    for group in chunks(planted["freeze_reason"]):
        await driver.command("freeze on for 1h " + joined(group))
    await driver.command("freeze off")
    for c, group in enumerate(chunks(planted["alertmanager_hook"])):
        await driver.hook(
            "/hooks/alertmanager",
            {
                "version": "4",
                "status": "firing",
                "receiver": "wizard",
                "groupKey": f'{{}}:{{service="svc-hook-{c}"}}',
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "HookPlanted", "service": f"svc-hook-{c}"},
                        "annotations": {"summary": "planted", "description": joined(group)},
                        "startsAt": now,
                        "fingerprint": f"fp{c:014d}",
                    }
                ],
            },
        )
    for p in planted["button"]:
        driver.n += 1
        body = block_actions_body(
            action_id="wizard_ack",
            value=p.text,  # Slack allows 2000 characters; the bot cuts what it keeps
            user_id="U0ONCALL",
            channel_id=ALERT_CHANNEL,
            message_ts=posted[0],
            response_url=bot.sandbox.response_url(f"campbtn{driver.n}"),
        )
        await driver.signed(body, "application/x-www-form-urlencoded")
    for group in chunks(planted["mention"]):
        mention = bot.sandbox.inject_message(
            ASK_CHANNEL,
            {"type": "app_mention", "user": "U0ONCALL", "text": "<@U0WIZARD> " + joined(group)},
        )
        await driver.event(mention | {"channel": ASK_CHANNEL})
    await bot.settle(90)


def find_leaks(texts: dict[str, str], plants: list[Plant]) -> dict[str, list[tuple[str, str]]]:
    """sink -> [(entry, kind)] for every planted needle found raw in that sink's text."""
    found: dict[str, list[tuple[str, str]]] = {}
    for sink, text in texts.items():
        found[sink] = [(p.entry, p.kind) for p in plants if p.needle in text]
    return found


async def run(base: Path) -> dict[str, Any]:
    data_dir = base / "data"
    planted = {entry: plants_for(entry, i) for i, entry in enumerate(ENTRIES)}
    all_plants = [p for group in planted.values() for p in group]
    log_sink = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(log_sink)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    async with SlackSandbox() as sandbox, FakeAnthropic(echo_answer) as llm:
        settings = settings_for(
            sandbox=sandbox,
            redis_url=None,  # type: ignore[arg-type]
            data_dir=data_dir,
            llm=llm,
            WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL,
            WIZARD_LLM_MAX_PER_HOUR=1000,
            WIZARD_LLM_MAX_PER_INCIDENT=20,
            WIZARD_LOG_LEVEL="DEBUG",
        )
        bot = await start_bot(settings, sandbox)
        driver = Driver(bot)
        try:
            await plant_everything(driver, planted)
            embedded = bot.runtime.embedded
            assert embedded is not None
            admin = sinks.redis_admin(embedded)
            try:
                aof_before = sinks.read_tree(data_dir / "redis")
                redis_values = await sinks.dump_redis(admin)
                await sinks.rewrite_aof(admin)
                aof_after = sinks.read_tree(data_dir / "redis")
            finally:
                await admin.aclose()
            records = await bot.runtime.audit.records()
            target = sinks.redis_target(embedded)
            files = sinks.data_files(data_dir)
            probe = sinks.other_user_probe(target, files)
            file_modes = sinks.modes(data_dir)
        finally:
            await stop_bot(bot)
        root.removeHandler(handler)
        calls = [c for c in sandbox.calls if not c.method.startswith("response_url:")]
        texts = {
            "model_requests": json.dumps([r["body"] for r in llm.requests]),
            "slack_posts": json.dumps([c.params for c in calls]),
            "slack_response_url": json.dumps(sandbox.responses),
            "http_acks": "\n".join(driver.acks),
            "logs_debug": log_sink.getvalue(),
            "audit_stream": json.dumps(records),
            "audit_file": "\n".join(sinks.read_tree(data_dir / "audit").values()),
            "redis_values": "\n".join(redis_values.values()),
            "aof_files": "\n".join(
                v for k, v in {**aof_before, **aof_after}.items() if "appendonly" in k
            ),
            "other_data_files": "\n".join(
                v
                for k, v in sinks.read_tree(data_dir).items()
                if "appendonly" not in k and "/audit/" not in k
            ),
        }
    leaks = find_leaks(texts, all_plants)
    return report(all_plants, leaks, driver, llm_calls=len(llm.requests), texts=texts) | {
        "other_user": probe,
        "modes": {k.replace(str(base), "<base>"): v for k, v in file_modes.items()},
    }


def report(
    plants: list[Plant],
    leaks: dict[str, list[tuple[str, str]]],
    driver: Driver,
    *,
    llm_calls: int,
    texts: dict[str, str],
) -> dict[str, Any]:
    family = {p.kind: p.family for p in plants}
    by_sink: dict[str, dict[str, int]] = {}
    by_entry: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_kind: dict[str, set[str]] = defaultdict(set)
    leaked: dict[str, set[tuple[str, str]]] = {"secret": set(), "trading": set()}
    for sink, found in leaks.items():
        counts = {"secret": 0, "trading": 0}
        for entry, kind in found:
            fam = family[kind]
            counts[fam] += 1
            shown = fam == "trading" and sink in SHOWN_TO_PEOPLE
            if not shown:
                leaked[fam].add((entry, kind))
                by_entry[entry][sink] += 1
                by_kind[kind].add(sink)
        by_sink[sink] = counts
    attempts = {
        "secret": sum(p.family == "secret" for p in plants),
        "trading": sum(p.family == "trading" for p in plants),
    }
    return {
        "attempts": attempts,
        "requests": len(driver.statuses),
        "http_5xx": sum(s >= 500 for s in driver.statuses),
        "model_calls": llm_calls,
        "sink_sizes": {k: len(v) for k, v in texts.items()},
        "masks_seen": {k: v.count("[REDACTED:") for k, v in texts.items()},
        "leaked_anywhere": {k: len(v) for k, v in leaked.items()},
        "by_sink": by_sink,
        "note": f"trading ids in {', '.join(SHOWN_TO_PEOPLE)} are re-hydrated for people on "
        "purpose and not counted in leaked_anywhere",
        "by_entry": {k: dict(v) for k, v in by_entry.items()},
        "by_kind": {k: sorted(v) for k, v in sorted(by_kind.items())},
    }


def main() -> None:
    configure_logging("DEBUG")
    base = Path(tempfile.mkdtemp(prefix="wizard-campaign-", dir="/tmp"))
    os.chmod(base, 0o755)  # another user may traverse: only the bot's own modes protect it
    started = time.monotonic()
    result = asyncio.run(run(base))
    result["seconds"] = round(time.monotonic() - started, 1)
    out = json.dumps(result, indent=1, sort_keys=True)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(out + "\n")
    sys.stdout.write(out + "\n")


if __name__ == "__main__":
    main()
