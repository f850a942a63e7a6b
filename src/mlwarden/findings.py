"""Result values: severities, locations, findings and the report that holds them.

Everything here is an immutable value. Scanners, linters and probes produce findings;
renderers turn a :class:`Report` into text, JSON, SARIF or HTML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from mlwarden._version import __version__

_SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")


class Severity(str, Enum):
    """How bad a finding is, from ``info`` to ``critical``; instances compare by rank."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self.value)

    # NOTE: str already defines the rich comparisons, so total_ordering would fill in
    # nothing: each one is spelled out to compare by rank, not alphabetically.
    def __lt__(self, other: object) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank_of(other)

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name case-insensitively; raises ``ValueError`` naming the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown severity {text!r}; choose one of {', '.join(_SEVERITY_ORDER)}"
            ) from None


def _rank_of(other: object) -> int:
    if not isinstance(other, Severity):
        raise TypeError(f"cannot compare Severity with {type(other).__name__}")
    return other.rank


class Confidence(str, Enum):
    """How sure the producer is that the finding is real."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Location:
    """Where a finding is: a file, optionally a member inside an archive, a line or offset.

    ``member`` uses ``!/`` to separate nesting levels, e.g. ``outer.zip!/inner.tar!/data.pkl``
    is ``path="outer.zip", member="inner.tar!/data.pkl"``.
    """

    path: str
    member: str | None = None
    #: 1-based line and column (SARIF and the JSON schema require 1-based values).
    line: int | None = None
    column: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        text = self.path if self.member is None else f"{self.path}!/{self.member}"
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        elif self.offset is not None:
            text += f"@{self.offset}"
        return text


_EVIDENCE_LIMIT = 240


def redact(text: str, limit: int = _EVIDENCE_LIMIT) -> str:
    """Make untrusted evidence safe to print: printable ASCII only, bounded length."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else f"\\x{ord(ch) & 0xFF:02x}" for ch in text)
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3] + "..."
    return cleaned


@dataclass(frozen=True)
class Finding:
    """One problem found at one place. Risk, CWE and remediation live on the rule."""

    rule_id: str
    severity: Severity
    confidence: Confidence
    location: Location
    message: str
    evidence: str = ""
    details: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", redact(self.evidence))
        object.__setattr__(self, "message", redact(self.message, 1000))

    @property
    def fingerprint(self) -> str:
        """Stable id of this finding across runs (rule, place, evidence; not line shifts)."""
        key = "\x1f".join(
            (self.rule_id, self.location.path, self.location.member or "", self.evidence)
        )
        return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]

    def with_location(self, location: Location) -> Finding:
        return replace(self, location=location)


@dataclass(frozen=True)
class SkippedItem:
    """An item that was deliberately not examined, with the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class ItemError:
    """An item whose examination failed; the rest of the run went on."""

    path: str
    error: str


MetricValue = int | float | str | bool


@dataclass(frozen=True)
class Report:
    """The result of one run of a command: findings, skipped items, errors and metrics."""

    command: str
    findings: tuple[Finding, ...] = ()
    skipped: tuple[SkippedItem, ...] = ()
    errors: tuple[ItemError, ...] = ()
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    scanned: tuple[str, ...] = ()
    #: Structured, JSON-serialisable results per probe or check (curves, tables, per-risk
    #: sections) that renderers such as the HTML report draw; keyed by probe id.
    evidence: Mapping[str, Any] = field(default_factory=dict)
    tool_version: str = __version__
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished_at: datetime | None = None

    def at_or_above(self, threshold: Severity) -> tuple[Finding, ...]:
        """Findings whose severity is ``threshold`` or worse."""
        return tuple(f for f in self.findings if f.severity >= threshold)

    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def counts(self) -> dict[str, int]:
        """Number of findings per severity name (every severity present, worst first)."""
        out = {s.value: 0 for s in reversed(Severity)}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def sorted_findings(self) -> tuple[Finding, ...]:
        return tuple(
            sorted(self.findings, key=lambda f: (-f.severity.rank, str(f.location), f.rule_id))
        )


def merge_reports(command: str, reports: Iterable[Report]) -> Report:
    """Combine several reports into one (findings, skipped, errors, scanned, metrics)."""
    parts = list(reports)
    metrics: dict[str, MetricValue] = {}
    evidence: dict[str, Any] = {}
    for part in parts:
        metrics.update(part.metrics)
        evidence.update(part.evidence)
    return Report(
        command=command,
        findings=tuple(f for p in parts for f in p.findings),
        skipped=tuple(s for p in parts for s in p.skipped),
        errors=tuple(e for p in parts for e in p.errors),
        scanned=tuple(s for p in parts for s in p.scanned),
        metrics=metrics,
        evidence=evidence,
        started_at=min((p.started_at for p in parts), default=datetime.now(timezone.utc)),
        finished_at=datetime.now(timezone.utc),
    )
