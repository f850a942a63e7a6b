"""The rule and risk catalogues are complete and consistent."""

from __future__ import annotations

import re

import pytest

from mlwarden.errors import PluginError
from mlwarden.risks import RISKS, RiskId, get_risk
from mlwarden.rules import RULES, Rule, get_rule, register_rules


def test_ten_risks_with_titles_and_mitigations() -> None:
    assert [r.value for r in RISKS] == [f"ML{i:02d}" for i in range(1, 11)]
    for risk in RISKS.values():
        assert risk.title and risk.description and risk.mitigations
        assert risk.url.startswith("https://owasp.org/")
    assert get_risk("ML06").title == "AI Supply Chain Attacks"


@pytest.mark.parametrize("rule", list(RULES.values()), ids=lambda r: r.id)
def test_rule_is_documented(rule: Rule) -> None:
    assert re.fullmatch(r"[A-Z]+-[A-Z0-9]+-\d{3}", rule.id)
    assert rule.summary.endswith(".") and rule.why and rule.fix
    assert rule.cwe > 0 and isinstance(rule.risk, RiskId)
    assert rule.help_uri.endswith(f"{rule.id}.md")


def test_duplicate_rule_ids_fail() -> None:
    existing = get_rule("SCAN-PKL-001")
    with pytest.raises(PluginError, match="SCAN-PKL-001"):
        register_rules([existing])


def test_unknown_rule_raises_key_error() -> None:
    with pytest.raises(KeyError):
        get_rule("NOPE-000")
