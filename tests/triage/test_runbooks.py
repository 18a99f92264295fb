"""Runbook catalogue: every shipped runbook loads, and the matcher is right and deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.models import Alert
from bot.triage.paths import PROMPTS_DIR, RUNBOOKS_DIR
from bot.triage.prompts import Prompts, load_prompts
from bot.triage.runbooks import GENERIC_ID, SECTION_TITLES, Runbook, RunbookCatalog

SECTIONS_MD = "\n".join(f"## {title}\n- step for {title.lower()}\n" for title in SECTION_TITLES)


@pytest.fixture(scope="module")
def catalog() -> RunbookCatalog:
    return RunbookCatalog.load(RUNBOOKS_DIR)


def alert(name: str, **fields: object) -> Alert:
    data: dict[str, object] = {
        "source": "alertmanager",
        "status": "firing",
        "name": name,
        "fingerprint": f"fp-{name}",
    }
    data.update(fields)
    return Alert.model_validate(data)


def write_runbook(directory: Path, filename: str, front: str, body: str = SECTIONS_MD) -> Path:
    path = directory / filename
    path.write_text(f"---\n{front}\n---\n# Title\n\n{body}", encoding="utf-8")
    return path


GENERIC_FRONT = "id: generic-triage\ntitle: Generic\n"


# --- loading -----------------------------------------------------------------------------------
def test_all_runbooks_load_with_every_section(catalog: RunbookCatalog) -> None:
    runbooks = catalog.all()
    assert len(runbooks) >= 11
    for runbook in runbooks:
        assert list(runbook.sections)[: len(SECTION_TITLES)] == list(SECTION_TITLES), runbook.id
        for title in SECTION_TITLES:
            bullets = runbook.sections[title]
            assert bullets and all(b.strip() for b in bullets), (runbook.id, title)
        assert runbook.title and runbook.body


def test_ids_unique_and_sorted(catalog: RunbookCatalog) -> None:
    ids = [r.id for r in catalog.all()]
    assert ids == sorted(set(ids))
    assert GENERIC_ID in ids


def test_required_topics_present(catalog: RunbookCatalog) -> None:
    ids = {r.id for r in catalog.all()}
    assert {
        "fix-session-drop",
        "market-data-feed-gap",
        "order-gateway-latency-open",
        "clock-drift-ptp-ntp",
        "kafka-consumer-lag",
        "pod-crashloop",
        "disk-full",
        "db-replication-lag",
        "deploy-error-rate-rollback",
        "certificate-expiry",
        "generic-triage",
    } <= ids


def test_runbooks_use_placeholders_not_invented_versions(catalog: RunbookCatalog) -> None:
    for runbook in catalog.all():
        rollback = " ".join(runbook.sections["Rollback"])
        assert "<previous version from deploy history>" in rollback or "previous" in rollback


def test_clock_runbook_mentions_rts25(catalog: RunbookCatalog) -> None:
    clock = catalog.get("clock-drift-ptp-ntp")
    assert clock is not None and "RTS 25" in clock.body


# --- matching ----------------------------------------------------------------------------------
MATCH_TABLE: list[tuple[Alert, str]] = [
    (
        alert("FIXSessionDown", service="fix-gateway", labels={"sender_comp_id": "FIRM1"}),
        "fix-session-drop",
    ),
    (
        alert("FixHeartbeatTimeoutCritical", summary="No heartbeat from venue for 30s"),
        "fix-session-drop",
    ),
    (
        alert("MarketDataFeedGap", service="feed-handler", labels={"feed": "XNAS-ITCH"}),
        "market-data-feed-gap",
    ),
    (
        alert("FeedStaleInstruments", summary="Stale prices on multicast channel 12"),
        "market-data-feed-gap",
    ),
    (
        alert(
            "OrderGatewayLatencyHigh",
            severity="high",
            service="order-gateway",
            summary="p99 order ack latency 4ms at the market open",
        ),
        "order-gateway-latency-open",
    ),
    (alert("NodeClockSkewDetected", labels={"instance": "node-a:9100"}), "clock-drift-ptp-ntp"),
    (
        alert("PTPOffsetHigh", labels={"job": "ptp"}, summary="ptp4l offset 250us"),
        "clock-drift-ptp-ntp",
    ),
    (
        alert("KafkaConsumerGroupLag", labels={"consumergroup": "risk", "topic": "fills"}),
        "kafka-consumer-lag",
    ),
    (
        alert(
            "KubePodCrashLooping",
            source="alertmanager",
            labels={"namespace": "trading", "pod": "pricer-0", "reason": "CrashLoopBackOff"},
        ),
        "pod-crashloop",
    ),
    (
        alert(
            "PodRestartsHigh",
            source="datadog",
            description="Back-off restarting failed " "container; CrashLoopBackOff",
        ),
        "pod-crashloop",
    ),
    (
        alert("NodeFilesystemAlmostOutOfSpace", labels={"mountpoint": "/var/log"}),
        "disk-full",
    ),
    (
        alert("PostgresReplicationLag", service="positions-db", summary="replay lag 45s"),
        "db-replication-lag",
    ),
    (
        alert(
            "HighErrorRate",
            source="grafana",
            service="pricing-engine",
            summary="5xx error rate 12% after deploy",
        ),
        "deploy-error-rate-rollback",
    ),
    (
        alert("CertificateExpiringSoon", summary="cert for fix-tls expires in 5 days"),
        "certificate-expiry",
    ),
    (alert("probe_ssl_cert_expiry", source="generic", summary="x509 expiry"), "certificate-expiry"),
]


@pytest.mark.parametrize(
    ("incoming", "expected"), MATCH_TABLE, ids=[a.name for a, _ in MATCH_TABLE]
)
def test_match_picks_expected_runbook(
    catalog: RunbookCatalog, incoming: Alert, expected: str
) -> None:
    runbook, score = catalog.match(incoming)
    assert runbook.id == expected
    assert score > 0


def test_unrelated_alert_gets_generic(catalog: RunbookCatalog) -> None:
    runbook, score = catalog.match(
        alert("BadgeReaderOffline", service="facilities", summary="Lobby badge reader offline")
    )
    assert (runbook.id, score) == (GENERIC_ID, 0)


def test_alertname_is_case_insensitive(catalog: RunbookCatalog) -> None:
    assert catalog.match(alert("fixsessiondown"))[0].id == "fix-session-drop"


def test_exact_name_outranks_keywords(catalog: RunbookCatalog) -> None:
    noisy = alert(
        "KafkaConsumerLag", summary="disk full certificate expiry clock drift replication lag"
    )
    assert catalog.match(noisy)[0].id == "kafka-consumer-lag"


def test_match_is_deterministic(catalog: RunbookCatalog) -> None:
    again = RunbookCatalog.load(RUNBOOKS_DIR)
    for incoming, _ in MATCH_TABLE:
        first = catalog.match(incoming)
        assert all(catalog.match(incoming) == first for _ in range(3))
        second = again.match(incoming)
        assert (second[0].id, second[1]) == (first[0].id, first[1])


def test_ties_broken_by_id(tmp_path: Path) -> None:
    write_runbook(tmp_path, "generic.md", GENERIC_FRONT)
    for rid in ("zeta", "alpha"):
        write_runbook(
            tmp_path, f"{rid}.md", f"id: {rid}\ntitle: {rid}\nmatch:\n  alertnames: [SameAlert]"
        )
    catalog = RunbookCatalog.load(tmp_path)
    assert catalog.match(alert("SameAlert"))[0].id == "alpha"


# --- lookup and search -------------------------------------------------------------------------
def test_get_by_id_prefix_and_case(catalog: RunbookCatalog) -> None:
    assert catalog.get("DISK-FULL") is not None
    assert catalog.get("disk-full.md") is not None
    fix = catalog.get("fix")
    assert fix is not None and fix.id == "fix-session-drop"
    assert catalog.get("d") is None  # ambiguous: db-..., deploy-..., disk-...
    assert catalog.get("no-such-runbook") is None
    assert catalog.get("  ") is None


def test_search(catalog: RunbookCatalog) -> None:
    assert catalog.search("kafka consumer lag")[0].id == "kafka-consumer-lag"
    assert catalog.search("PTP clock offset")[0].id == "clock-drift-ptp-ntp"
    assert catalog.search("latency at market open")[0].id == "order-gateway-latency-open"
    assert catalog.search("zero-downtime deploy rollout")[0].id == "deploy-error-rate-rollback"
    assert catalog.search("expired certificates")[0].id == "certificate-expiry"
    assert len(catalog.search("latency", limit=2)) <= 2
    assert catalog.search("") == []
    assert catalog.search("xyzzy plugh") == []


def test_search_is_deterministic(catalog: RunbookCatalog) -> None:
    query = "disk space on kafka brokers"
    assert [r.id for r in catalog.search(query)] == [r.id for r in catalog.search(query)]


# --- presentation ------------------------------------------------------------------------------
def test_catalogue_text_byte_stable(catalog: RunbookCatalog) -> None:
    text = catalog.catalogue_text()
    assert text == RunbookCatalog.load(RUNBOOKS_DIR).catalogue_text()
    assert text.encode() == catalog.catalogue_text().encode()
    lines = text.strip().splitlines()
    assert [line.split(":")[0][2:] for line in lines] == [r.id for r in catalog.all()]
    assert str(RUNBOOKS_DIR) not in text


def test_ref_with_and_without_base_url(catalog: RunbookCatalog) -> None:
    runbook = catalog.get("disk-full")
    assert runbook is not None
    plain = catalog.ref(runbook, None)
    assert (plain.id, plain.url, plain.path) == ("disk-full", None, "runbooks/disk-full.md")
    linked = catalog.ref(runbook, "https://git.example.com/runbooks/")
    assert linked.url == "https://git.example.com/runbooks/disk-full.md"


# --- bad files ---------------------------------------------------------------------------------
def test_broken_front_matter_names_the_file(tmp_path: Path) -> None:
    write_runbook(tmp_path, "generic.md", GENERIC_FRONT)
    bad = write_runbook(tmp_path, "broken.md", "id: broken\ntitle: [unclosed")
    with pytest.raises(ValueError, match=r"broken\.md"):
        RunbookCatalog.load(tmp_path)
    bad.write_text("no front matter at all\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.md"):
        RunbookCatalog.load(tmp_path)


def test_unknown_key_and_bad_id_rejected(tmp_path: Path) -> None:
    write_runbook(tmp_path, "generic.md", GENERIC_FRONT)
    write_runbook(tmp_path, "typo.md", "id: typo\ntitle: T\nmatches: {}")
    with pytest.raises(ValueError, match=r"typo\.md"):
        RunbookCatalog.load(tmp_path)
    write_runbook(tmp_path, "typo.md", "id: Not A Slug\ntitle: T")
    with pytest.raises(ValueError, match=r"typo\.md"):
        RunbookCatalog.load(tmp_path)


def test_missing_section_rejected(tmp_path: Path) -> None:
    write_runbook(tmp_path, "generic.md", GENERIC_FRONT)
    write_runbook(tmp_path, "short.md", "id: short\ntitle: S", body="## Immediate actions\n- x\n")
    with pytest.raises(ValueError, match=r"short\.md.*Implementation plan"):
        RunbookCatalog.load(tmp_path)


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    write_runbook(tmp_path, "generic.md", GENERIC_FRONT)
    write_runbook(tmp_path, "a.md", "id: same\ntitle: A")
    write_runbook(tmp_path, "b.md", "id: same\ntitle: B")
    with pytest.raises(ValueError, match="same"):
        RunbookCatalog.load(tmp_path)


def test_generic_required(tmp_path: Path) -> None:
    write_runbook(tmp_path, "a.md", "id: a\ntitle: A")
    with pytest.raises(ValueError, match=GENERIC_ID):
        RunbookCatalog.load(tmp_path)


def test_multiline_bullets_joined(tmp_path: Path) -> None:
    body = SECTIONS_MD.replace(
        "- step for immediate actions\n",
        "- first line\n  continued here\n- second\n",
    )
    path = write_runbook(tmp_path, "generic.md", GENERIC_FRONT, body=body)
    runbook: Runbook = RunbookCatalog.load(path.parent).all()[0]
    assert runbook.sections["Immediate actions"] == ["first line continued here", "second"]


# --- prompts -----------------------------------------------------------------------------------
def test_prompts_load_and_are_stable() -> None:
    prompts = load_prompts()
    assert isinstance(prompts, Prompts)
    assert prompts == load_prompts(PROMPTS_DIR)
    assert "untrusted_data" in prompts.persona
    assert "<!channel>" in prompts.persona  # named as forbidden
    for field in ("immediate_actions", "rollback", "target_known", "success_criteria"):
        assert field in prompts.answer_template
    assert prompts.followup.strip() and prompts.question.strip()


def test_prompts_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"persona\.md"):
        load_prompts(tmp_path)
