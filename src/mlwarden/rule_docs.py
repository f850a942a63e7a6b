"""Generates one Markdown page per rule (docs/rules/RULE.md) from the rule catalogue.

Sections follow the house style: What it does / Why is this bad? / Example / Use instead /
References / OWASP. Run ``python -m mlwarden.rule_docs docs/rules`` after changing a rule; a
test fails when the checked-in pages are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlwarden.risks import get_risk
from mlwarden.rules import RULES, Rule


def rule_page(rule: Rule) -> str:
    """The Markdown page of ``rule``."""
    risk = get_risk(rule.risk)
    refs = "\n".join(f"- <{ref}>" for ref in rule.references) or "- (none)"
    example = rule.example or "See the generated test corpus in `tests/corpus/`."
    return (
        f"# {rule.id}: {rule.name}\n\n"
        f"Severity: **{rule.severity.value}** · CWE: [{rule.cwe_id}]"
        f"(https://cwe.mitre.org/data/definitions/{rule.cwe}.html) · "
        f"OWASP: **{risk.id.value} {risk.title}**\n\n"
        f"## What it does\n\n{rule.summary}\n\n"
        f"## Why is this bad?\n\n{rule.why}\n\n"
        f"## Example\n\n{example}\n\n"
        f"## Use instead\n\n{rule.fix}\n\n"
        f"## References\n\n{refs}\n\n"
        f"## OWASP\n\n[{risk.id.value}: {risk.title}]({risk.url}): {risk.description}\n"
    )


def write_pages(dest: Path) -> list[Path]:
    """Write every rule page (and an index) into ``dest``; returns the paths written."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for rule in sorted(RULES.values(), key=lambda r: r.id):
        path = dest / f"{rule.id}.md"
        path.write_text(rule_page(rule), encoding="utf-8")
        written.append(path)
    index = ["# Rules", "", "| id | name | risk | severity |", "|---|---|---|---|"]
    index += [
        f"| [{r.id}]({r.id}.md) | {r.name} | {r.risk.value} | {r.severity.value} |"
        for r in sorted(RULES.values(), key=lambda r: r.id)
    ]
    (dest / "README.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    return written


if __name__ == "__main__":  # pragma: no cover - developer tool
    write_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules"))
