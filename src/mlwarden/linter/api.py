"""``mlwarden.lint(paths) -> Report``: the linter's Python API (the CLI is a thin shell on it)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mlwarden.findings import Finding, ItemError, Report, SkippedItem
from mlwarden.linter import baseline as baselines
from mlwarden.linter.engine import discover, run
from mlwarden.linter.options import LintOptions


def lint(
    paths: Sequence[str | Path],
    options: LintOptions | None = None,
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    baseline: str | Path | None = None,
    write_baseline: bool = False,
    jobs: int | None = None,
) -> Report:
    """Lint Python files, folders and notebooks for insecure ML code (OWASP ML01-ML10).

    Nothing linted is imported or run. Files over the size limit, with syntax errors or
    undecodable text are reported as skipped items; unreadable ones as item errors.

    Args:
        paths: files (any suffix) and folders (``*.py`` and ``*.ipynb`` inside, recursively).
        options: rule selection, per-path ignores, excludes, limits, parallelism.
        select: shortcut for ``options.select`` (rule ids, id prefixes or risks like ``ML06``).
        ignore: shortcut for ``options.ignore``.
        baseline: a baseline file; findings it lists are left out of the report. When the
            file does not exist (or ``write_baseline`` is set), it is written from this run's
            findings instead, and the report holds none.
        write_baseline: (re)write ``baseline`` even if it exists.
        jobs: worker processes (0 or ``None``: one per core).

    Returns:
        A :class:`~mlwarden.findings.Report` with ``command="lint"``; ``metrics`` has
        ``files_linted``, ``lines``, ``seconds``, ``lines_per_second``, ``suppressed`` and
        ``baselined``.

    Raises:
        UsageError: a malformed rule code.
        InputError: an unreadable or malformed baseline file.
    """
    options = options or LintOptions()
    if select is not None:
        options = replace(options, select=tuple(select))
    if ignore is not None:
        options = replace(options, ignore=tuple(ignore))
    if jobs is not None:
        options = replace(options, jobs=jobs)
    started = time.perf_counter()
    files, missing, skipped = discover(paths, options)
    findings: list[Finding] = []
    errors = [ItemError(m, "no such file or directory") for m in missing]
    skipped_items: list[SkippedItem] = list(skipped)
    linted: list[str] = []
    lines = suppressed = 0
    for result in run(files, options):
        findings.extend(result.findings)
        skipped_items.extend(result.skipped)
        errors.extend(result.errors)
        lines += result.lines
        suppressed += result.suppressed
        if result.linted:
            linted.append(result.path)
    metrics: dict[str, int | float | str | bool] = {}
    if baseline is not None:
        findings, metrics = _apply_baseline(Path(baseline), findings, write_baseline)
    seconds = time.perf_counter() - started
    metrics.update(
        files_seen=len(files),
        files_linted=len(linted),
        lines=lines,
        seconds=round(seconds, 4),
        lines_per_second=round(lines / seconds) if seconds > 0 else 0,
        suppressed=suppressed,
    )
    return Report(
        command="lint",
        findings=tuple(sorted(findings, key=_order)),
        skipped=tuple(skipped_items),
        errors=tuple(errors),
        scanned=tuple(linted),
        metrics=metrics,
    )


def _apply_baseline(
    path: Path, findings: list[Finding], rewrite: bool
) -> tuple[list[Finding], dict[str, int | float | str | bool]]:
    if rewrite or not path.exists():
        written = baselines.write(path, findings)
        return [], {"baseline_written": str(path), "baselined": written}
    fresh, matched = baselines.subtract(findings, baselines.read(path), path.parent)
    return fresh, {"baselined": matched}


def _order(f: Finding) -> tuple[str, str, int, int, str]:
    loc = f.location
    return (loc.path, loc.member or "", loc.line or 0, loc.column or 0, f.rule_id)
