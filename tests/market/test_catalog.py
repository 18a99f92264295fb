"""The service catalog: the shipped example, matching, blast radius and load errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import ServiceCatalog
from bot.triage.runbooks import RunbookCatalog
from bot.yamldoc import DataFileError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    runbooks = {r.id for r in RunbookCatalog.load(ROOT / "runbooks").all()}
    return ServiceCatalog.load(ROOT / "catalog.yaml", runbook_ids=runbooks)


def test_example_catalog_loads_with_real_runbooks(catalog: ServiceCatalog) -> None:
    assert len(catalog) == 8
    gateway = catalog.get("order-gateway")
    assert gateway is not None
    assert gateway.tier == 1
    assert gateway.slack_group == "S0ORDERGW"
    assert gateway.mention == "<!subteam^S0ORDERGW|@EU Order Entry>"
    assert gateway.venues == ["XLON", "XETR", "XPAR", "XAMS"]  # friendly names → MICs
    assert "order-gateway-latency-open" in gateway.runbooks


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ORDER_GATEWAY", "order-gateway"),
        ("Order Gateway", "order-gateway"),
        ("ogw", "order-gateway"),
        ("SOR", "smart-order-router"),
        ("order-gateway-prod-7f9c", "order-gateway"),
        ("fix_engine", "fix-engine"),
        ("kafka-cluster-eu1", "kafka"),
    ],
)
def test_get_matches_names_aliases_and_instances(
    catalog: ServiceCatalog, query: str, expected: str
) -> None:
    service = catalog.get(query)
    assert service is not None and service.name == expected


def test_get_unknown_is_none(catalog: ServiceCatalog) -> None:
    assert catalog.get("payroll") is None
    assert catalog.get("") is None
    assert catalog.get(None) is None
    assert catalog.get("order") is None  # a prefix of a name is not a match
    assert catalog.get("risk") is not None  # an alias matches exactly...
    assert catalog.get("risk-reporting-batch") is None  # ...but is not prefix-matched


def test_dependents_direct_and_transitive(catalog: ServiceCatalog) -> None:
    assert catalog.dependents("fix-engine", transitive=False) == ["order-gateway"]
    assert catalog.dependents("fix-engine") == ["order-gateway", "smart-order-router"]
    everything_but_kafka = {s.name for s in catalog.all()} - {"kafka"}
    assert set(catalog.dependents("kafka")) == everything_but_kafka


def test_venues_at_risk_include_dependents(catalog: ServiceCatalog) -> None:
    assert catalog.get("kafka").venues == []  # type: ignore[union-attr]
    assert {"XNYS", "XLON", "XTKS", "CMES"} <= set(catalog.venues_at_risk("kafka"))


def test_impact_line(catalog: ServiceCatalog) -> None:
    line = catalog.impact_line("fix_engine")
    assert line == (
        "fix-engine (tier 1) — client and broker FIX sessions (DMA, care orders, drop copies) — "
        "venues XLON, XETR, XPAR, XNYS, CMES — owner Connectivity (S0FIXCONN) — "
        "also hits order-gateway, smart-order-router"
    )
    assert catalog.impact_line("payroll") is None


def test_missing_file_is_an_empty_catalog(tmp_path: Path) -> None:
    empty = ServiceCatalog.load(tmp_path / "nope.yaml")
    assert len(empty) == 0
    assert empty.get("order-gateway") is None


VALID = """services:
  a:
    owner: Team A
    tier: 1
  b:
    owner: Team B
    tier: 2
    depends_on: [a]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID.replace("tier: 2", "tier: 5"), r"catalog.yaml:7: services.b.tier: Input should be"),
        (VALID.replace("[a]", "[zz]"), r"catalog.yaml:8: services.b.depends_on.0: unknown service"),
        (VALID + "    aliases: [A]\n", r"catalog.yaml:9: services.b.aliases: 'A' already names"),
        (VALID.replace("owner: Team B", "team: B"), r"catalog.yaml:6: services.b.owner: Field req"),
        (VALID + "    slack_group: '@oncall'\n", r"catalog.yaml:9: services.b.slack_group"),
        ("services:\n  a: [unclosed\n", r"catalog.yaml:3: invalid YAML"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    with pytest.raises(DataFileError, match=message):
        ServiceCatalog.load(path)


def test_unknown_runbook_is_an_error_when_ids_are_given(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(VALID + "    runbooks: [no-such-runbook]\n")
    assert ServiceCatalog.load(path).get("b") is not None  # no ids given: not checked
    with pytest.raises(DataFileError, match=r":9: services.b.runbooks.0: unknown runbook"):
        ServiceCatalog.load(path, runbook_ids={"disk-full"})
