"""Baseline files: accept today's findings, report only new ones.

A finding is fingerprinted by its rule, its file (relative to the baseline file's folder),
the function it is in and its code text with whitespace removed, never by its line or
notebook cell number: adding lines above it, reformatting it, or inserting cells does not
make it new. Identical findings in one function are counted, so a second copy of a baselined
call is still reported.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from mlwarden.errors import InputError
from mlwarden.findings import Finding

FORMAT = "mlwarden-lint-baseline"
VERSION = 1


def fingerprint(finding: Finding, root: Path) -> str:
    """The line-independent identity of ``finding`` (paths relative to ``root``)."""
    path = _relative(finding.location.path, root)
    code = "".join(finding.evidence.split())
    scope = str(finding.details.get("scope", ""))
    key = "\x1f".join((finding.rule_id, path, scope, code))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _relative(path: str, root: Path) -> str:
    absolute = os.path.abspath(path)
    try:
        return Path(os.path.relpath(absolute, os.path.abspath(root))).as_posix()
    except ValueError:  # another drive on Windows
        return Path(absolute).as_posix()


def write(path: Path, findings: Iterable[Finding]) -> int:
    """Write a baseline of ``findings``; returns how many entries it holds."""
    root = path.parent
    entries = sorted(
        (
            {
                "fingerprint": fingerprint(f, root),
                "rule": f.rule_id,
                "path": _relative(f.location.path, root),
                "scope": str(f.details.get("scope", "")),
                "code": f.evidence,
            }
            for f in findings
        ),
        key=lambda e: (e["path"], e["rule"], e["fingerprint"]),
    )
    doc = {"format": FORMAT, "version": VERSION, "findings": entries}
    try:
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write baseline {path}: {exc.strerror}") from None
    return len(entries)


def read(path: Path) -> Counter[str]:
    """The fingerprints of a baseline file, with how many findings each stands for."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        return Counter(str(entry["fingerprint"]) for entry in doc["findings"])
    except OSError as exc:
        raise InputError(f"cannot read baseline {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"baseline {path} is malformed: {exc}",
            hint="Delete it and run again with --write-baseline to create a fresh one.",
        ) from None


def subtract(
    findings: Iterable[Finding], known: Counter[str], root: Path
) -> tuple[list[Finding], int]:
    """Findings not covered by the baseline, and how many were covered."""
    budget = Counter(known)
    fresh: list[Finding] = []
    matched = 0
    for found in findings:
        key = fingerprint(found, root)
        if budget[key] > 0:
            budget[key] -= 1
            matched += 1
        else:
            fresh.append(found)
    return fresh, matched
