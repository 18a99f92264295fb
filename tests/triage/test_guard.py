"""The output guard on its own: mentions, links, secrets and caps in a model's answer."""

from __future__ import annotations

import pytest

from bot.models import Alert, AlertLinks, Context, RollbackPlan, RunbookRef, TriageAnswer
from bot.triage.guard import (
    LINK_REMOVED,
    MENTION_REMOVED,
    Findings,
    GuardPolicy,
    clean_string,
    context_hosts,
    guard_answer,
    url_host,
)
from bot.triage.paths import RUNBOOKS_DIR
from bot.triage.prompts import load_prompts
from bot.triage.runbooks import RunbookCatalog
from bot.triage.wizard import Wizard

POLICY = GuardPolicy(allowed_hosts=frozenset({"grafana.internal", "runbooks.internal"}))


def answer(**overrides: object) -> TriageAnswer:
    base: dict[str, object] = {
        "summary": "Gateway latency is high.",
        "immediate_actions": ["Check the dashboard."],
        "implementation_plan": ["Revert the change."],
        "monitoring_strategy": ["Watch p99."],
        "risk_mitigation": ["One change at a time."],
        "rollback": RollbackPlan(),
        "success_criteria": ["p99 under 5ms."],
    }
    base.update(overrides)
    return TriageAnswer.model_validate(base)


@pytest.mark.parametrize(
    "text",
    [
        "<!channel> wake up",
        "<!here|here> now",
        "< ! everyone >",
        "<!subteam^S0123|@oncall> please",
        "<!CHANNEL>",
        "@channel look",
        "@Here look",
        "＠ｅｖｅｒｙｏｎｅ look",
        "@ch\u200bannel look",
        "@\u202eennahc",
    ],
)
def test_mass_mentions_are_removed_in_any_spelling(text: str) -> None:
    findings = Findings()
    out = clean_string(text, POLICY, findings)
    lowered = out.lower()
    assert "<!" not in out
    for word in ("@channel", "@here", "@everyone", "subteam"):
        assert word not in lowered
    if "enna" not in text:
        assert MENTION_REMOVED in out and findings.mentions >= 1


def test_mass_mentions_kept_when_allowed() -> None:
    policy = GuardPolicy(allow_mass_mentions=True)
    assert clean_string("<!here> the open is at risk", policy) == "<!here> the open is at risk"
    # user pings are never needed in an answer, whatever the flag says
    assert "<@U123>" not in clean_string("ask <@U123>", policy)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("see https://evil.example/x now", False),
        ("<https://evil.example|click here>", False),
        ("[the dashboard](https://evil.example/d)", False),
        ("open evil.example/login", False),
        ("go to evil.com", False),
        ("ftp://files.evil.example/x", False),
        ("<mailto:a@evil.example|mail>", False),
        ("javascript:alert(1)", False),
        ("https://grafana.internal@evil.example/", False),
        ("https://grafana.internal\\@evil.example/", False),
        ("https://grafana.internal/d/abc?from=now-1h", True),
        ("<https://runbooks.internal/ogw|runbook>", True),
    ],
)
def test_links_only_to_allowed_hosts(text: str, kept: bool) -> None:
    findings = Findings()
    out = clean_string(text, POLICY, findings)
    assert "evil" not in out.lower().replace("[link removed]", "")
    if kept:
        assert findings.links == 0 and LINK_REMOVED not in out
    else:
        assert findings.links >= 1 and LINK_REMOVED in out


def test_ordinary_technical_text_is_untouched() -> None:
    text = (
        "Run `kubectl -n trading rollout undo deploy/order-gateway`, check /etc/chrony.conf "
        "and values.yaml; ogw-3.prod.internal:9102 p99 < 5ms, e.g. 2026.11.27-1. "
        "Then run deploy.sh, rebuild main.cc, check config.in and logs.zip."
    )
    findings = Findings()
    assert clean_string(text, POLICY, findings) == text
    assert findings == Findings()


def test_configured_domains_cover_subdomains() -> None:
    policy = GuardPolicy(allowed_domains=frozenset({"corp.example"}))
    assert "https://wiki.corp.example/x" in clean_string("https://wiki.corp.example/x", policy)
    assert LINK_REMOVED in clean_string("https://corp.example.evil.example/x", policy)


def test_secrets_are_masked() -> None:
    findings = Findings()
    out = clean_string(
        "token xoxb-1234567890-abcdefghij and AKIAABCDEFGHIJKLMNOP", POLICY, findings
    )
    assert "xoxb-1234567890" not in out and "AKIAABCDEFGHIJKLMNOP" not in out
    assert findings.secrets >= 2


def test_secret_hidden_by_zero_width_characters_is_masked() -> None:
    out = clean_string("xox\u200bb-1234567890-abcdefghij", POLICY)
    assert "1234567890" not in out


def test_strings_and_lists_are_capped_with_a_note() -> None:
    big = answer(summary="x" * 10_000, immediate_actions=[f"step {n}" for n in range(100)])
    cleaned, notes = guard_answer(big, GuardPolicy(max_string=2000, max_items=25))
    assert len(cleaned.summary) <= 2000
    assert len(cleaned.immediate_actions) == 25
    assert any("Shortened" in n for n in notes)


def test_guard_answer_notes_say_what_was_removed_without_repeating_it() -> None:
    hostile = answer(
        summary="<!channel> see https://evil.example/x",
        rollback=RollbackPlan(steps=["@here deploy from evil.example/pkg"]),
    )
    cleaned, notes = guard_answer(hostile, POLICY)
    dumped = cleaned.model_dump_json()
    assert "evil" not in dumped and "<!channel>" not in dumped and "@here" not in dumped
    assert len(notes) == 2
    assert not any("evil" in n for n in notes)
    assert cleaned.confidence == hostile.confidence


def test_clean_answer_passes_unchanged() -> None:
    plain = answer()
    cleaned, notes = guard_answer(plain, POLICY)
    assert cleaned == plain and notes == []


def test_guard_is_idempotent() -> None:
    hostile = answer(summary="<!here> xoxb-1234567890-abcdefghij https://evil.example/x " * 3)
    once, _ = guard_answer(hostile, POLICY)
    twice, notes = guard_answer(once, POLICY)
    assert once == twice and notes == []


def test_alert_links_never_widen_what_the_model_may_link() -> None:
    alert = Alert(
        source="alertmanager",
        status="firing",
        name="X",
        fingerprint="f",
        description="see https://evil.example/x",
        links=AlertLinks(dashboard="https://Grafana.Internal:3000/d/1", source=None),
    )
    context = Context(
        alert=alert,
        runbook=RunbookRef(id="r", title="R", path="r.md", url="https://runbooks.internal/r"),
    )
    hosts = context_hosts(context, ["https://wiki.example.org/base"])
    # the alert's own dashboard host is the alert's link, not a licence for the model's answer
    assert hosts == {"runbooks.internal", "wiki.example.org"}
    assert context_hosts(None) == frozenset()


def test_url_host_rejects_unparseable() -> None:
    assert url_host("https://[::1") == ""
    assert url_host("https://a.example:99/x") == "a.example"
    assert url_host("not a url") == ""


def _wizard(**kw: object) -> Wizard:
    return Wizard(
        prompts=load_prompts(),
        catalog=RunbookCatalog.load(RUNBOOKS_DIR),
        client=None,
        **kw,  # type: ignore[arg-type]
    )


def test_wizard_check_runs_the_guard_with_its_settings() -> None:
    hostile = answer(
        summary="<!here> see https://wiki.corp.example/x and https://evil.example/x",
        rollback=RollbackPlan(target_version="6.6.6-evil", target_known=True),
    )
    cleaned, notes = _wizard(allowed_link_domains=frozenset({"corp.example"}))._check(hostile, None)
    assert "https://wiki.corp.example/x" in cleaned.summary
    assert "evil.example" not in cleaned.summary and "<!here>" not in cleaned.summary
    assert cleaned.rollback.target_version is None and not cleaned.rollback.target_known
    assert len(notes) == 3  # mention, link, invented rollback target

    loud, _ = _wizard(allow_mass_mentions=True)._check(hostile, None)
    assert loud.summary.startswith("<!here>")
