"""The gate in front of every model load: scan the exact bytes that will be loaded.

A model file is read into memory once; the artifact scanner judges those bytes and the loader
then deserialises the same bytes, so nothing can swap the file between check and use.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlwarden.findings import Finding, ItemError, Location, Severity
from mlwarden.models.errors import UnsafeModel
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits
from mlwarden.scan.engine import dispatch
from mlwarden.scan.policy import PicklePolicy

#: Findings at or above this severity stop a load (benign files never reach medium).
DEFAULT_REFUSE_AT = Severity.MEDIUM


@dataclass(frozen=True)
class ByteScan:
    """What the scanner said about one in-memory artifact."""

    findings: tuple[Finding, ...]
    errors: tuple[ItemError, ...]
    formats: tuple[str, ...]


def scan_bytes(
    data: bytes,
    name: str,
    *,
    fs_path: Path | None = None,
    policy: PicklePolicy | None = None,
    limits: ScanLimits | None = None,
) -> ByteScan:
    """Scan ``data`` as if it were the file ``name`` (nested content included).

    Args:
        data: the artifact's bytes.
        name: its file name (a format hint for formats without magic bytes).
        fs_path: the file it was read from, for checks that look beside it on disk (ONNX
            external data); the file itself is not read again.
        policy: trusted pickle globals beyond the reviewed allow-list.
        limits: scan limits (defaults are the scanner's).
    """
    ctx = ScanContext.start(policy or PicklePolicy(), limits or ScanLimits(), dispatch)
    artifact = Artifact(
        location=Location(str(fs_path) if fs_path is not None else name),
        name=name,
        size=len(data),
        depth=0,
        opener=lambda: io.BytesIO(data),
        fs_path=fs_path,
    )
    found = tuple(dispatch(artifact, ctx))
    formats = tuple(k.removeprefix("format:") for k in ctx.stats if k.startswith("format:"))
    return ByteScan(found, tuple(ctx.errors), formats)


def refuse_unsafe(
    data: bytes,
    name: str,
    *,
    fs_path: Path | None = None,
    policy: PicklePolicy | None = None,
    refuse_at: Severity = DEFAULT_REFUSE_AT,
) -> ByteScan:
    """Scan ``data`` and raise :class:`UnsafeModel` on findings at ``refuse_at`` or above.

    Fails closed: content the scanner could not read (a per-item error) is refused too.
    """
    result = scan_bytes(data, name, fs_path=fs_path, policy=policy)
    bad = [f for f in result.findings if f.severity >= refuse_at]
    if bad or result.errors:
        raise UnsafeModel(_refusal(name, bad, result.errors, refuse_at))
    return result


def _refusal(
    name: str, bad: Sequence[Finding], errors: Sequence[ItemError], refuse_at: Severity
) -> str:
    lines = [f"refusing to load {name}: the scanner reported"]
    lines += [
        f"  {f.severity.value} {f.rule_id} {f.location}: {f.message}"
        for f in sorted(bad, key=lambda f: -f.severity.rank)
    ]
    lines += [f"  unreadable {e.path}: {e.error}" for e in errors]
    if bad:
        lines.append(f"(findings at {refuse_at.value} or above block a load)")
    return "\n".join(lines)
