"""Text, JSON and SARIF output of `mlwarden verify` (success and failure)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlwarden.report.render import render

if TYPE_CHECKING:
    from mlwarden.integrity.errors import VerificationError
    from mlwarden.integrity.verify import VerificationResult


def failure_report(model: Path, error: VerificationError, fmt: str) -> str:
    """What failed, as text (problem per line, then the hint) or as a JSON/SARIF report."""
    from mlwarden.integrity.report import failure_report as build

    if fmt != "text":
        return render(build(model, error), fmt)
    noun = "problem" if len(error.problems) == 1 else "problems"
    lines = [f"FAILED: {str(model)!r} did not verify ({len(error.problems)} {noun})"]
    lines += [f"  {p.rule_id}  {p.message}" for p in error.problems]
    lines.append(f"hint: {error.hint}")
    return "\n".join(lines)


def render_result(result: VerificationResult, fmt: str) -> str:
    """A passed verification, with its warnings."""
    from mlwarden.integrity.report import integrity_report

    if fmt != "text":
        metrics: dict[str, int | float | str | bool] = {
            "verified": True,
            "checks": ",".join(result.checks),
            "digest": result.digest,
            "files": result.stats.files,
            "seconds": round(result.stats.seconds, 4),
        }
        if result.key_hint:
            metrics["key"] = f"{result.key_kind}:{result.key_hint}"
        return render(integrity_report(result.model, result.warnings, metrics=metrics), fmt)
    what = [c for c in result.checks if c in ("sigstore", "certificate")]
    if result.key_hint:
        what.append(f"signature ({result.key_kind} key {result.key_hint[:16]}...)")
    if result.lock_entry is not None:
        what.append(f"lockfile entry {result.lock_entry.name!r}")
    lines = [
        f"verified {str(result.model)!r}: {' + '.join(what)}",
        f"  {result.stats.files} file(s), digest {result.digest}",
    ]
    lines += [f"  warning {w.rule_id}: {w.message}" for w in result.warnings]
    return "\n".join(lines)
