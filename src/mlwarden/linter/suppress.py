"""Inline suppressions: ``# mlwarden: ignore[RULE, ...] reason``.

A comment on any line of the flagged statement (or on the line a route finding points at)
suppresses the named rules there; ``# mlwarden: ignore-file[RULE] reason`` anywhere in the
file suppresses them in the whole file. A rule is named by its id (``LINT-ML06-002``), an id
prefix (``LINT-ML06``) or a risk (``ML06``). Every suppression must give a reason: one
without (or naming no known rule) is reported as ``LINT-GEN-001``, one that suppresses
nothing as ``LINT-GEN-002``; both still suppress what they name, so adding a reason later
changes nothing else.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from mlwarden.findings import Confidence
from mlwarden.linter.context import RawFinding

_COMMENT = re.compile(
    r"#\s*mlwarden\s*:\s*ignore(?P<file>-file)?\s*(?:\[(?P<codes>[^\]]*)\])?(?P<reason>[^#]*)",
    re.IGNORECASE,
)
_REASON_LEAD = " \t-:;,.=>\u2014\u2013"


@dataclass
class Suppression:
    """One suppression comment."""

    line: int
    column: int
    codes: tuple[str, ...]
    reason: str
    whole_file: bool
    used: bool = field(default=False)

    def covers(self, rule_id: str) -> bool:
        if not self.codes:
            return True
        return any(_matches(code, rule_id) for code in self.codes)


def _matches(code: str, rule_id: str) -> bool:
    if code == rule_id or rule_id.startswith(code + "-"):
        return True
    return bool(re.fullmatch(r"ML\d\d", code)) and f"-{code}-" in rule_id


def parse(lines: list[str]) -> list[Suppression]:
    """Every suppression comment in ``lines``: real comments only, not text in strings."""
    if not any("mlwarden" in line for line in lines):
        return []  # the common case: no tokenizing at all
    out: list[Suppression] = []
    for number, column, text in _comments(lines):
        match = _COMMENT.match(text)
        if match is None:
            continue
        codes = tuple(
            c.strip().upper() for c in (match.group("codes") or "").split(",") if c.strip()
        )
        reason = match.group("reason").strip().lstrip(_REASON_LEAD).strip()
        out.append(Suppression(number, column + 1, codes, reason, bool(match.group("file"))))
    return out


def _comments(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """(line, column, text) of each comment mentioning mlwarden."""
    source = io.StringIO("\n".join(lines) + "\n")
    try:
        for token in tokenize.generate_tokens(source.readline):
            if token.type == tokenize.COMMENT and "mlwarden" in token.string:
                yield token.start[0], token.start[1], token.string
    except (tokenize.TokenError, SyntaxError):
        return


def apply(
    findings: Iterable[RawFinding],
    suppressions: list[Suppression],
    known: Callable[[str], bool],
    enabled: Callable[[str], bool],
) -> tuple[list[RawFinding], int]:
    """Drop suppressed findings; add LINT-GEN findings about the suppressions themselves.

    Args:
        findings: raw findings of one file.
        suppressions: its comments, from :func:`parse`.
        known: whether a code names at least one known rule.
        enabled: whether a rule id is selected in this run (unused-suppression checks only
            make sense for rules that ran).

    Returns:
        The findings kept (plus the suppression findings) and how many were suppressed.
    """
    if not suppressions:
        return list(findings), 0
    kept: list[RawFinding] = []
    dropped = 0
    file_wide = [s for s in suppressions if s.whole_file]
    by_line: dict[int, list[Suppression]] = {}
    for sup in suppressions:
        if not sup.whole_file:
            by_line.setdefault(sup.line, []).append(sup)
    for found in findings:
        hit = _hit(found, by_line, file_wide)
        if hit is None:
            kept.append(found)
        else:
            hit.used = True
            dropped += 1
    kept.extend(_meta(suppressions, known, enabled))
    return kept, dropped


def _hit(
    found: RawFinding, by_line: dict[int, list[Suppression]], file_wide: list[Suppression]
) -> Suppression | None:
    for line in range(found.line, found.end_line + 1):
        for sup in by_line.get(line, ()):
            if sup.covers(found.rule_id):
                return sup
    return next((s for s in file_wide if s.covers(found.rule_id)), None)


def _meta(
    suppressions: list[Suppression], known: Callable[[str], bool], enabled: Callable[[str], bool]
) -> Iterable[RawFinding]:
    for sup in suppressions:
        unknown = [c for c in sup.codes if not known(c)]
        where = (sup.line, sup.column, sup.line)
        if unknown:
            yield RawFinding(
                "LINT-GEN-001",
                *where,
                f"suppression names no known rule: {', '.join(unknown)}",
                Confidence.HIGH,
            )
        elif not sup.reason:
            yield RawFinding(
                "LINT-GEN-001",
                *where,
                "suppression without a reason: say why the finding does not apply",
                Confidence.HIGH,
            )
        if not sup.used and not unknown and all(enabled(c) for c in sup.codes or ("LINT",)):
            yield RawFinding(
                "LINT-GEN-002", *where, "suppression matches no finding", Confidence.HIGH
            )
