"""Trusted-source policy for base models (ML07): approved digest, known source, pinned revision.

A fine-tuned model inherits whatever its base model carries, backdoor included. The base
model must therefore be what was approved: its digest is checked against the integrity
lockfile (``INT-LCK-001`` changed, ``INT-LCK-002`` not approved), and its lock entry must
record where it came from and a revision that cannot move: a 40-hex commit, the same rule the
linter applies to ``from_pretrained(..., revision=...)`` (``AUD-BD-003`` otherwise).
"""

from __future__ import annotations

import re
from pathlib import Path

from mlwarden.findings import Confidence, Finding, Location, Severity

_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_pinned(revision: str | None) -> bool:
    """True for a full 40-hex commit id (tags and branches can be moved upstream)."""
    return revision is not None and _COMMIT.fullmatch(revision) is not None


def _untrusted(where: str, message: str) -> Finding:
    return Finding("AUD-BD-003", Severity.MEDIUM, Confidence.HIGH, Location(where), message)


def check_base_model(
    model: str | Path,
    lockfile: str | Path,
    name: str | None = None,
) -> list[Finding]:
    """Findings for a base model that is not approved, or approved without a pinned source.

    Args:
        model: the base model's directory or file.
        lockfile: the integrity lockfile (``mlwarden.lock``).
        name: its entry in the lockfile (default: the model directory's name).

    Returns:
        An empty list when the digest matches an entry that records a source and a pinned
        commit; otherwise one finding per problem (``INT-LCK-...``, ``AUD-BD-003``).
    """
    from mlwarden.integrity.errors import NotApprovedError
    from mlwarden.integrity.lockfile import Lockfile, check_model
    from mlwarden.integrity.report import finding_for

    root = Path(model)
    where = str(root)
    lock = Lockfile.read(lockfile, missing_ok=True)
    try:
        entry, _ = check_model(root, lock, name)
    except NotApprovedError as exc:
        return [finding_for(root, p) for p in exc.problems]
    out = []
    if not entry.source:
        out.append(_untrusted(where, f"base model {entry.name!r}: the lockfile records no source"))
    if not is_pinned(entry.revision):
        shown = entry.revision or "none"
        out.append(
            _untrusted(
                where,
                f"base model {entry.name!r}: revision {shown!r} is not pinned to a 40-hex commit",
            )
        )
    return out
