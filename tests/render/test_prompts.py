"""The assistant pane's suggested prompts: worst open incidents first, titles made inert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.incidents.models import Incident
from bot.render.prompts import GENERAL_PROMPTS, MAX_PROMPTS, suggested_prompts

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def incident(n: int, title: str, severity: str = "warning", minutes_ago: int = 0, **kw) -> Incident:
    at = NOW - timedelta(minutes=minutes_ago)
    return Incident(
        id=f"INC-{n}",
        group_key=f"g{n}",
        title=title,
        channel="C0ALERTS",
        thread_ts=f"{n}.0",
        opened_at=at,
        updated_at=at,
        severity=severity,
        **kw,
    )


def test_worst_then_most_recent_first_then_general_questions() -> None:
    prompts = suggested_prompts(
        [
            incident(1, "Disk filling on logs-01", "warning", minutes_ago=1),
            incident(2, "FIX session down on LSE", "critical", minutes_ago=30),
            incident(3, "Order gateway latency", "high", minutes_ago=5),
            incident(4, "Kafka lag on risk-engine", "high", minutes_ago=2),
            incident(5, "Clock drift on ptp-2", "info", minutes_ago=0),
        ]
    )
    assert len(prompts) == MAX_PROMPTS
    assert [p["title"].split(":")[0] for p in prompts[:3]] == [
        "Status of INC-2",
        "Status of INC-4",  # high, and more recent than INC-3
        "Status of INC-3",
    ]
    assert prompts[3]["title"] == GENERAL_PROMPTS[0][0] == "What is frozen right now?"


def test_the_assessed_severity_wins_and_resolved_incidents_are_left_out() -> None:
    prompts = suggested_prompts(
        [
            incident(1, "Raised by the market assessment", "warning", assessed_severity="critical"),
            incident(2, "High but older", "high", minutes_ago=10),
            incident(3, "Already over", "critical", state="resolved"),
        ]
    )
    assert [p["title"].split(":")[0] for p in prompts[:2]] == ["Status of INC-1", "Status of INC-2"]
    assert not any("INC-3" in p["message"] for p in prompts)


def test_no_open_incident_means_general_prompts_only() -> None:
    prompts = suggested_prompts([])
    assert [(p["title"], p["message"]) for p in prompts] == list(GENERAL_PROMPTS[:MAX_PROMPTS])


def test_hostile_incident_titles_are_inert() -> None:
    title = "<!here> pay <https://evil.example/x|now> @channel " + "x" * 300
    prompt, *_ = suggested_prompts([incident(1, title, "critical")])
    for text in (prompt["title"], prompt["message"]):
        assert "<!here>" not in text and "<https://" not in text and "@channel" not in text
    assert len(prompt["title"]) <= len("Status of ") + 60
    assert len(prompt["message"]) < 250
