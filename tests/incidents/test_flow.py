"""Incidents end to end: the real bot, real Redis, the Slack sandbox and the fake model.

A storm of 1000 alerts becomes 20 threads and at most 20 model calls with every alert counted;
an incident is summarised in place, resolved, remembered ("last time … fixed by …"), re-analysed
only when it grows and within its LLM budget; the summary's buttons are applied once, noted in
the thread and audited with who and when.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.render.incident import (
    ACTION_ACK,
    ACTION_RERUN,
    ACTION_RESOLVE,
    ACTION_RUNBOOK,
    ACTION_SILENCE,
)
from tests.fakes.alertmanager_api import FakeAlertmanager
from tests.fakes.anthropic_api import FakeAnthropic
from tests.harness import ALERT_CHANNEL, Bot, blocks_text

PAYLOADS = Path(__file__).parents[2] / "bot" / "demo" / "payloads"


def alert_message(name: str, service: str) -> dict[str, Any]:
    """An Alertmanager post (default Slack template) for `name` on `service`."""
    message = json.loads((PAYLOADS / "02_alertmanager_slack.json").read_text())
    text = json.dumps(message).replace("OrderGatewayLatencyHigh", name)
    return json.loads(text.replace("order-gateway", service))


def am_webhook(
    alerts: list[tuple[str, str, str, str]],
    *,
    group: str = "PTPClockOffsetHigh",
    service: str = "order-gateway",
    truncated: int = 0,
    receiver: str = "wizard",
) -> dict[str, Any]:
    """An Alertmanager v4 webhook body: alerts as (name, instance, status, severity)."""
    now = datetime.now(UTC)
    body_alerts = []
    for name, instance, status, severity in alerts:
        body_alerts.append(
            {
                "status": status,
                "labels": {
                    "alertname": name,
                    "instance": instance,
                    "service": service,
                    "severity": severity,
                    "env": "prod",
                },
                "annotations": {"summary": f"{name} on {instance}"},
                "startsAt": (now - timedelta(minutes=2)).isoformat(),
                "endsAt": now.isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.internal:9090/graph",
                "fingerprint": f"{name}-{instance}".lower().replace(":", ""),
            }
        )
    return {
        "receiver": receiver,
        "status": "firing" if any(a[2] == "firing" for a in alerts) else "resolved",
        "alerts": body_alerts,
        "groupLabels": {"alertname": group},
        "commonLabels": {"service": service},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.internal:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "truncatedAlerts": truncated,
    }


async def test_storm_of_1000_alerts_makes_20_threads_and_at_most_20_model_calls(
    make_bot: Any, llm: FakeAnthropic, record_property: Any
) -> None:
    bot: Bot = await make_bot(
        WIZARD_WORKERS=16, WIZARD_SUMMARY_INTERVAL_S=2.0, WIZARD_SUMMARY_UPDATES_PER_MIN=120
    )
    messages = [
        bot.sandbox.inject_message(
            ALERT_CHANNEL, alert_message(f"Storm{n % 20:02d}", f"svc-{n % 20}")
        )
        for n in range(1000)
    ]
    started = time.perf_counter()
    for start in range(0, 1000, 100):
        statuses = await asyncio.gather(*(bot.event(m) for m in messages[start : start + 100]))
        assert set(statuses) == {200}
    acked = time.perf_counter() - started
    await bot.settle(timeout=180)
    drained = time.perf_counter() - started

    assert bot.runtime.incidents is not None
    incidents = await bot.runtime.incidents.open_incidents(100)
    assert len(incidents) == 20
    assert sum(i.events for i in incidents) == 1000  # every alert counted
    assert all(i.events == 50 and len(i.alerts) == 1 for i in incidents)
    threads = [m["ts"] for m in messages if bot.thread(ALERT_CHANNEL, m["ts"])]
    assert sorted(threads) == sorted(i.thread_ts for i in incidents)
    assert len(llm.requests) <= 20
    posts = bot.calls("chat.postMessage")
    assert len(posts) == 60  # one summary card and one analysis (first screen + plan) each
    updates = bot.calls("chat.update")
    # coalesced: bounded by the flusher's rate, not by the 1000 alerts
    assert len(updates) <= 20 + 120 * drained / 60 + 20, len(updates)
    for incident in incidents:  # each summary ends up showing all 50 notifications
        assert "50 notifications" in blocks_text(bot.summary(ALERT_CHANNEL, incident.thread_ts))
    assert await bot.runtime.redis.xlen("wizard:jobs:dead") == 0  # nothing dead-lettered
    triage = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
    assert len(triage) == 20
    for name, value in {
        "storm_alerts_in": 1000,
        "storm_threads": len(threads),
        "storm_llm_calls": len(llm.requests),
        "storm_messages_posted": len(posts),
        "storm_summary_updates": len(updates),
        "storm_acked_s": round(acked, 2),
        "storm_drained_s": round(drained, 2),
    }.items():
        record_property(name, value)


async def test_webhook_incident_is_summarised_resolved_and_remembered(
    make_bot: Any, llm: FakeAnthropic
) -> None:
    bot: Bot = await make_bot(WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL, WIZARD_INCIDENT_REOPEN_M=0)
    firing = [
        ("PTPClockOffsetHigh", "ogw-1", "firing", "warning"),
        ("PTPClockOffsetHigh", "ogw-2", "firing", "warning"),
    ]
    assert await bot.hook("/hooks/alertmanager", am_webhook(firing, truncated=3)) == 200
    await bot.settle()
    roots = [m for m in bot.sandbox.messages(ALERT_CHANNEL) if m.get("bot_id")]
    assert len(roots) == 1
    root = roots[0]
    summary = blocks_text(bot.sandbox.messages(ALERT_CHANNEL)[0])
    assert "2 firing" in summary and "+3 more" in summary and "ogw-1" in summary
    assert "Immediate actions" in bot.answer_text(ALERT_CHANNEL, root["ts"])

    # Alertmanager's repeat notification: counted, not re-triaged, no new thread.
    repeat = am_webhook(firing, truncated=3, receiver="wizard-repeat")
    assert await bot.hook("/hooks/alertmanager", repeat) == 200
    await bot.settle()
    assert len([m for m in bot.sandbox.messages(ALERT_CHANNEL) if m.get("bot_id")]) == 1
    assert len(llm.requests) == 1
    assert "4 notifications" in blocks_text(bot.sandbox.messages(ALERT_CHANNEL)[0])

    resolved = [(n, i, "resolved", s) for n, i, _, s in firing]
    assert await bot.hook("/hooks/alertmanager", am_webhook(resolved)) == 200
    await bot.settle()
    note = bot.slot_messages(ALERT_CHANNEL, root["ts"], "resolved:")
    assert len(note) == 1 and "What fixed it?" in blocks_text(note[0])
    assert "resolved* after" in blocks_text(bot.sandbox.messages(ALERT_CHANNEL)[0])

    fix = bot.sandbox.inject_message(
        ALERT_CHANNEL,
        {
            "type": "message",
            "user": "U0ONCALL",
            "text": "restarting phc2sys on ogw-1 fixed it",
            "thread_ts": root["ts"],
        },
    )
    assert await bot.event(fix) == 200
    await bot.settle()
    records = await bot.runtime.audit.records()
    fixes = [r for r in records if r["kind"] == "fix_recorded"]
    assert len(fixes) == 1 and fixes[0]["actor"] == "U0ONCALL"
    assert [r["kind"] for r in records].count("incident_resolved") == 1

    # The next incident of the same group starts with what fixed the last one.
    again = am_webhook([("PTPClockOffsetHigh", "ogw-1", "firing", "warning")])
    assert await bot.hook("/hooks/alertmanager", again) == 200
    await bot.settle()
    roots = [m for m in bot.sandbox.messages(ALERT_CHANNEL) if m.get("bot_id")]
    assert len(roots) == 2
    prompt = json.dumps(llm.requests[-1]["body"]["messages"])
    assert "fixed by: restarting phc2sys on ogw-1 fixed it" in prompt
    newest = max(roots, key=lambda m: float(m["ts"]))
    assert "last time" in blocks_text(newest) and "phc2sys" in blocks_text(newest)
    assert await bot.runtime.audit.verify() == (len(await bot.runtime.audit.records()), None)


async def test_growth_reanalyses_within_budget_then_falls_back(
    make_bot: Any, llm: FakeAnthropic
) -> None:
    bot: Bot = await make_bot(WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL, WIZARD_LLM_MAX_PER_INCIDENT=2)
    first = [("OrderLatencyHigh", "ogw-1", "firing", "warning")]
    await bot.hook("/hooks/alertmanager", am_webhook(first, group="OrderLatency"))
    await bot.drain()
    worse = [*first, ("OrderLatencyHigh", "ogw-2", "firing", "critical")]
    await bot.hook("/hooks/alertmanager", am_webhook(worse, group="OrderLatency"))
    await bot.drain()
    wider = [*worse, ("OrderLatencyHigh", "fix-1", "firing", "critical")]
    body = am_webhook(wider, group="OrderLatency")
    body["alerts"][-1]["labels"]["service"] = "fix-engine"  # a service the analyses did not see
    await bot.hook("/hooks/alertmanager", body)
    await bot.settle()
    assert len(llm.requests) == 2  # the first analysis and one re-analysis: the cap is 2
    triage = [r for r in await bot.runtime.audit.records() if r["kind"] == "triage"]
    assert [t["fallback"] for t in triage] == [False, False, True]
    assert "LLM budget" in triage[-1]["fallback_reason"]
    root = next(m for m in bot.sandbox.messages(ALERT_CHANNEL) if m.get("bot_id"))
    analyses = bot.slot_messages(ALERT_CHANNEL, root["ts"], "analysis:")
    assert len(analyses) == 3
    assert "Re-analysis" in blocks_text(analyses[1]) and "fallback" in blocks_text(analyses[2])


async def test_buttons_are_applied_once_noted_and_audited(
    make_bot: Any, llm: FakeAnthropic
) -> None:
    bot: Bot = await make_bot()
    ts = await bot.post_alert(alert_message("OrderGatewayLatencyHigh", "order-gateway"))
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    summary_ts = bot.summary(ALERT_CHANNEL, ts)["ts"]
    actions = bot.summary(ALERT_CHANNEL, ts)["blocks"][-1]
    assert [e["action_id"] for e in actions["elements"]] == [
        ACTION_ACK,
        ACTION_RESOLVE,
        ACTION_RERUN,
        ACTION_RUNBOOK,
    ]  # no Silence button: ALERTMANAGER_URL is not set

    assert (await bot.click(ACTION_ACK, incident.id, message_ts=summary_ts))[0] == 200
    await bot.settle()
    assert "acknowledged by <@U0ONCALL>" in blocks_text(bot.summary(ALERT_CHANNEL, ts))
    notes = bot.slot_messages(ALERT_CHANNEL, ts, "note")
    assert len(notes) == 1 and "acknowledged" in blocks_text(notes[0])
    _, rid = await bot.click(ACTION_ACK, incident.id, user="U0SECOND")
    await bot.settle()
    assert "already acknowledged" in json.dumps(bot.sandbox.responses[rid])
    assert bot.sandbox.responses[rid][0]["response_type"] == "ephemeral"

    _, rid = await bot.click(ACTION_RUNBOOK, incident.id)
    await bot.settle()
    assert "Order-gateway latency" in json.dumps(bot.sandbox.responses[rid])

    _, rid = await bot.click(ACTION_SILENCE, incident.id)
    await bot.settle()
    assert "ALERTMANAGER_URL" in json.dumps(bot.sandbox.responses[rid])

    await bot.click(ACTION_RERUN, incident.id)
    await bot.settle()
    assert len(llm.requests) == 2
    analyses = bot.slot_messages(ALERT_CHANNEL, ts, "analysis:")
    assert len(analyses) == 2 and "re-run requested by" in blocks_text(analyses[1])

    await bot.click(ACTION_RESOLVE, incident.id, user="U0LEAD")
    await bot.settle()
    resolved = bot.slot_messages(ALERT_CHANNEL, ts, "resolved:")
    assert len(resolved) == 1 and "<@U0LEAD>" in blocks_text(resolved[0])
    assert await bot.runtime.incidents.open_incidents() == []

    records = await bot.runtime.audit.records()
    clicks = [
        (r["action"], r["actor"], r["outcome"]) for r in records if r["kind"] == "incident_action"
    ]
    assert clicks == [
        (ACTION_ACK, "U0ONCALL", "done"),
        (ACTION_ACK, "U0SECOND", "already acknowledged"),
        (ACTION_RUNBOOK, "U0ONCALL", "done"),
        (ACTION_SILENCE, "U0ONCALL", "not configured"),
        (ACTION_RERUN, "U0ONCALL", "done"),
        (ACTION_RESOLVE, "U0LEAD", "done"),
    ]
    assert all(r["at"] for r in records if r["kind"] == "incident_action")
    assert await bot.runtime.audit.verify() == (len(records), None)


async def test_only_privileged_responders_change_incidents_when_configured(
    make_bot: Any,
) -> None:
    bot: Bot = await make_bot(WIZARD_PRIVILEGED_USERS="U0BOSS")
    ts = await bot.post_alert(alert_message("FixSessionDown", "fix-engine"))
    await bot.settle()
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    status, rid = await bot.click(ACTION_RESOLVE, incident.id, user="U0INTERN")
    assert status == 200
    assert "Only the on-call responders" in json.dumps(bot.sandbox.responses[rid])
    _, rid = await bot.click(ACTION_RUNBOOK, incident.id, user="U0INTERN")  # read-only: fine
    await bot.settle()
    assert "FIX session" in json.dumps(bot.sandbox.responses[rid])
    assert len(await bot.runtime.incidents.open_incidents()) == 1
    denials = [r for r in await bot.runtime.audit.records() if r["kind"] == "access_denied"]
    assert denials and denials[0]["user"] == "U0INTERN"
    await bot.click(ACTION_RESOLVE, incident.id, user="U0BOSS")
    await bot.settle()
    assert await bot.runtime.incidents.open_incidents() == []
    assert len(bot.slot_messages(ALERT_CHANNEL, ts, "resolved:")) == 1


async def test_silence_button_creates_alertmanager_silences_once(make_bot: Any) -> None:
    async with FakeAlertmanager() as alertmanager:
        bot: Bot = await make_bot(
            ALERTMANAGER_URL=alertmanager.base_url, WIZARD_WEBHOOK_CHANNEL=ALERT_CHANNEL
        )
        firing = [
            ("PTPClockOffsetHigh", "ogw-1", "firing", "warning"),
            ("PTPClockOffsetHigh", "ogw-2", "firing", "warning"),
        ]
        await bot.hook("/hooks/alertmanager", am_webhook(firing))
        await bot.settle()
        assert bot.runtime.incidents is not None
        (incident,) = await bot.runtime.incidents.open_incidents()
        root = bot.sandbox.messages(ALERT_CHANNEL)[0]
        buttons = [e["action_id"] for e in root["blocks"][-1]["elements"]]
        assert ACTION_SILENCE in buttons
        status, _ = await bot.click(ACTION_SILENCE, incident.id, user="U0ONCALL")
        assert status == 200
        await bot.settle()
        silences = list(alertmanager.silences.values())
        assert len(silences) == 2  # one per alert (instance), not one per click or label set
        matchers = [{m["name"]: m["value"] for m in s["matchers"]} for s in silences]
        assert {m["instance"] for m in matchers} == {"ogw-1", "ogw-2"}
        assert all(m["alertname"] == "PTPClockOffsetHigh" for m in matchers)
        assert all(s["createdBy"] == "slack:U0ONCALL" for s in silences)
        assert all(incident.id in s["comment"] for s in silences)
        note = bot.slot_messages(ALERT_CHANNEL, root["ts"], "note")
        assert len(note) == 1 and "silenced" in blocks_text(note[0])
        assert "silenced by <@U0ONCALL>" in blocks_text(bot.sandbox.messages(ALERT_CHANNEL)[0])
        record = next(
            r for r in await bot.runtime.audit.records() if r["kind"] == "incident_action"
        )
        assert record["outcome"] == "done"
        assert set(record["detail"].split(", ")) == set(alertmanager.silences)

        alertmanager.fail(500, "cluster unavailable")
        _, rid = await bot.click(ACTION_SILENCE, incident.id, user="U0SECOND")
        await bot.settle()
        assert "refused the silence" in json.dumps(bot.sandbox.responses[rid])


async def test_alerts_arriving_while_the_card_is_posted_do_not_open_threads(
    make_bot: Any, llm: FakeAnthropic
) -> None:
    """Slack is slow to accept the summary card; the group's next alerts are processed
    meanwhile. They count into the incident, and post nothing in their own threads."""
    bot: Bot = await make_bot(WIZARD_WORKERS=8)
    bot.sandbox.delay("chat.postMessage", 0.5)
    messages = [
        bot.sandbox.inject_message(ALERT_CHANNEL, alert_message(f"Gw{n}Down", "order-gateway"))
        for n in range(6)
    ]
    statuses = await asyncio.gather(*(bot.event(m) for m in messages))
    assert set(statuses) == {200}
    await bot.settle(timeout=30)
    threads = [m["ts"] for m in messages if bot.thread(ALERT_CHANNEL, m["ts"])]
    assert len(threads) == 1, threads
    assert bot.runtime.incidents is not None
    (incident,) = await bot.runtime.incidents.open_incidents()
    assert incident.events == 6 and incident.thread_ts == threads[0]
    assert len(llm.requests) == 1
