"""The checked-in rule pages match the catalogue (regenerate with python -m mlwarden.rule_docs)."""

from __future__ import annotations

from pathlib import Path

from mlwarden.rule_docs import rule_page, write_pages
from mlwarden.rules import RULES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules"


def test_every_rule_page_is_current() -> None:
    stale = [
        rule.id
        for rule in RULES.values()
        if not (DOCS / f"{rule.id}.md").is_file()
        or (DOCS / f"{rule.id}.md").read_text(encoding="utf-8") != rule_page(rule)
    ]
    assert not stale, f"run `python -m mlwarden.rule_docs docs/rules`; stale: {stale}"


def test_pages_have_house_sections(tmp_path: Path) -> None:
    pages = write_pages(tmp_path)
    assert len(pages) == len(RULES)
    text = pages[0].read_text(encoding="utf-8")
    for heading in (
        "What it does",
        "Why is this bad?",
        "Example",
        "Use instead",
        "References",
        "OWASP",
    ):
        assert f"## {heading}" in text
    assert "SCAN-PKL-001" in (tmp_path / "README.md").read_text(encoding="utf-8")
