"""The scanner contract: artifacts, limits, the per-file context and the Scanner protocol.

An :class:`Artifact` is one thing to scan: a file, or a member of an archive, or bytes
embedded in another format (an object array's pickle, a bytes constant that is a pickle).
A scanner never imports, unpickles or executes what it reads; it reads bytes through
``artifact.open()`` and yields findings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from mlwarden.errors import ScanLimitExceeded
from mlwarden.findings import Confidence, Finding, ItemError, Location, Severity
from mlwarden.rules import get_rule

if TYPE_CHECKING:
    from mlwarden.scan.policy import PicklePolicy

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class ScanLimits:
    """Bounds on the work spent on one top-level file (archives included)."""

    max_file_seconds: float = 120.0
    max_depth: int = 6
    max_expanded_bytes: int = 8 * GiB
    max_ratio: float = 1000.0
    #: The ratio is only judged past this output size: benign files reach high ratios too
    #: (bz2/xz of all-zero arrays), and a few hundred MiB is where a bomb starts to hurt.
    ratio_grace_bytes: int = 256 * MiB
    max_members: int = 100_000
    max_header_bytes: int = 100 * MiB
    max_memo_entries: int = 2_000_000
    max_const_bytes: int = 64 * MiB
    max_stacked_pickles: int = 64


@dataclass(frozen=True)
class Artifact:
    """One item to scan.

    Attributes:
        location: where it is (file path, and member path inside containers).
        name: the member's (or file's) own name: a hint for formats without magic bytes only.
        size: its size in bytes when known.
        depth: how many containers it is nested in (0 for a file on disk).
        opener: returns a fresh binary stream positioned at the start.
        fs_path: the file on disk, when the artifact is one (not a member).
        container: the format of the enclosing container (``"zip"``, ``"tar"``, ...), if any.
        siblings: names of the other members of the same container.
    """

    location: Location
    name: str
    size: int | None
    depth: int
    opener: Callable[[], BinaryIO]
    fs_path: Path | None = None
    container: str | None = None
    siblings: frozenset[str] = frozenset()

    def open(self) -> BinaryIO:
        return self.opener()

    def child_location(self, member: str) -> Location:
        base = self.location
        joined = member if base.member is None else f"{base.member}!/{member}"
        return Location(base.path, joined)


@dataclass
class ScanContext:
    """State shared by the scanners working on one top-level file."""

    policy: PicklePolicy
    limits: ScanLimits
    deadline: float
    dispatch: Callable[[Artifact, ScanContext], Iterator[Finding]]
    stats: dict[str, int] = field(default_factory=dict)
    errors: list[ItemError] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        policy: PicklePolicy,
        limits: ScanLimits,
        dispatch: Callable[[Artifact, ScanContext], Iterator[Finding]],
    ) -> ScanContext:
        return cls(policy, limits, time.monotonic() + limits.max_file_seconds, dispatch)

    def check_deadline(self) -> None:
        """Raise :class:`ScanLimitExceeded` once the per-file time budget is spent."""
        if time.monotonic() > self.deadline:
            raise ScanLimitExceeded(
                f"time limit of {self.limits.max_file_seconds:g}s per file exceeded"
            )

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def scan_child(self, child: Artifact) -> Iterator[Finding]:
        """Scan a nested artifact (archive member, embedded pickle) with the normal dispatch."""
        if child.depth > self.limits.max_depth:
            yield finding(
                "SCAN-ARC-002",
                child.location,
                f"nesting depth {child.depth} exceeds the limit of {self.limits.max_depth}",
            )
            return
        yield from self.dispatch(child, self)

    def scan_embedded(self, parent: Artifact, data: bytes, member: str) -> Iterator[Finding]:
        """Scan bytes found inside ``parent`` (e.g. a bytes constant) as their own artifact."""
        import io

        child = Artifact(
            location=parent.child_location(member),
            name=member,
            size=len(data),
            depth=parent.depth + 1,
            opener=lambda: io.BytesIO(data),
            container="embedded",
        )
        yield from self.scan_child(child)


@runtime_checkable
class Scanner(Protocol):
    """A format scanner: declares its id and formats, yields findings for an artifact."""

    id: str
    formats: frozenset[str]

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield findings for ``artifact``; raise ``MalformedInput`` for unreadable content."""
        ...


def finding(
    rule_id: str,
    location: Location,
    message: str,
    *,
    evidence: str = "",
    severity: Severity | None = None,
    confidence: Confidence = Confidence.HIGH,
    offset: int | None = None,
    **details: str | int | float | bool,
) -> Finding:
    """Build a finding for ``rule_id`` with the rule's default severity unless overridden."""
    rule = get_rule(rule_id)
    if offset is not None:
        location = Location(location.path, location.member, offset=offset)
    return Finding(
        rule_id=rule_id,
        severity=severity or rule.severity,
        confidence=confidence,
        location=location,
        message=message,
        evidence=evidence,
        details=details,
    )
