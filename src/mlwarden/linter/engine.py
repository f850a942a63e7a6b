"""Lints files: walking, reading, parsing, the rules, suppressions; one process per core.

Nothing linted is imported or executed: files are parsed with :mod:`ast`. A file over the
size limit, with a syntax error or an undecodable encoding is a skipped item with the reason;
an unreadable file is an item error; a bug in a rule becomes an item error naming the file,
never a crash of the run.
"""

from __future__ import annotations

import ast
import gc
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mlwarden.errors import InputError
from mlwarden.findings import Finding, ItemError, Location, SkippedItem
from mlwarden.linter import suppress
from mlwarden.linter.analyze import analyze
from mlwarden.linter.checks import RULESET
from mlwarden.linter.context import RawFinding
from mlwarden.linter.options import LintOptions, code_matches, matches_glob
from mlwarden.linter.source import SourceFile, read_source
from mlwarden.rules import RULES

#: Folders never walked into (ruff's default excludes).
DEFAULT_EXCLUDES = frozenset(
    (
        ".bzr",
        ".direnv",
        ".eggs",
        ".git",
        ".git-rewrite",
        ".hg",
        ".mypy_cache",
        ".nox",
        ".pants.d",
        ".pytype",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        "__pypackages__",
        "_build",
        "buck-out",
        "dist",
        "node_modules",
        "venv",
        "__pycache__",
    )
)
_SUFFIXES = (".py", ".ipynb")
#: Below this many files, starting worker processes costs more than it saves.
_PARALLEL_MIN_FILES = 16
_EVIDENCE_CHARS = 160


@dataclass(frozen=True)
class FileResult:
    """What linting one file produced."""

    path: str
    findings: tuple[Finding, ...] = ()
    skipped: tuple[SkippedItem, ...] = ()
    errors: tuple[ItemError, ...] = ()
    lines: int = 0
    suppressed: int = 0
    linted: bool = False


def discover(
    paths: Sequence[str | Path], options: LintOptions
) -> tuple[list[Path], list[str], list[SkippedItem]]:
    """Python files and notebooks under ``paths``: (files, missing paths, skipped items)."""
    files: list[Path] = []
    missing: list[str] = []
    skipped: list[SkippedItem] = []
    for raw in paths:
        root = Path(raw)
        if root.is_file():
            files.append(root)  # named explicitly: linted whatever its suffix
        elif root.is_dir():
            files.extend(_walk(root, options, skipped))
        else:
            missing.append(str(raw))
    return files, missing, skipped


def _walk(root: Path, options: LintOptions, skipped: list[SkippedItem]) -> Iterator[Path]:
    def on_error(err: OSError) -> None:
        skipped.append(SkippedItem(str(err.filename), f"unreadable directory: {err.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _excluded(here / d, options, folder=True))
        for name in sorted(filenames):
            path = here / name
            if name.endswith(_SUFFIXES) and not _excluded(path, options, folder=False):
                if path.is_symlink():
                    skipped.append(SkippedItem(str(path), "symbolic link"))
                else:
                    yield path


def _excluded(path: Path, options: LintOptions, *, folder: bool) -> bool:
    if folder and options.default_excludes and path.name in DEFAULT_EXCLUDES:
        return True
    return any(matches_glob(path, glob) for glob in options.exclude)


def lint_file(path: Path, options: LintOptions) -> FileResult:
    """Lint one file; every problem becomes part of the result, nothing is raised."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > options.max_file_bytes:
            reason = f"larger than the {options.max_file_bytes} byte limit ({size} bytes)"
            return FileResult(name, skipped=(SkippedItem(name, reason),))
        source = read_source(path)
    except InputError as exc:
        return FileResult(name, skipped=(SkippedItem(name, str(exc).partition(": ")[2]),))
    except OSError as exc:
        return FileResult(name, errors=(ItemError(name, exc.strerror or str(exc)),))
    return _lint_source(path, source, options)


def _lint_source(path: Path, source: SourceFile, options: LintOptions) -> FileResult:
    name = str(path)
    cells = tuple(SkippedItem(name, reason) for reason in source.skipped_cells)
    lines = source.text.splitlines()
    try:
        tree = ast.parse(source.text, filename=name)
    except SyntaxError as exc:
        cell, line = source.locate(exc.lineno or 1)
        where = f"cell {cell}, line {line}" if cell else f"line {line}"
        return FileResult(name, skipped=(SkippedItem(name, f"syntax error at {where}: {exc.msg}"),))
    except (ValueError, RecursionError, MemoryError) as exc:
        return FileResult(name, skipped=(SkippedItem(name, f"cannot parse: {exc}"),))
    try:
        raw = analyze(tree, lines, RULESET, is_test_file=_is_test_file(path))
    except RecursionError:
        return FileResult(name, skipped=(SkippedItem(name, "nesting too deep to analyse"),))
    except Exception as exc:
        error = ItemError(
            name, f"internal linter error ({type(exc).__name__}: {exc}); please report it"
        )
        return FileResult(name, errors=(error,), lines=len(lines))
    kept = [
        f
        for f in raw
        if options.enabled(f.rule_id, path) and options.confident_enough(f.confidence)
    ]
    kept, dropped = suppress.apply(
        kept,
        suppress.parse(lines),
        known=_known_code,
        enabled=lambda code: any(
            code_matches(code, r) and options.enabled(r, path)
            for r in RULES
            if r.startswith("LINT")
        ),
    )
    findings = tuple(
        _finding(f, path, source, lines) for f in kept if options.enabled(f.rule_id, path)
    )
    return FileResult(name, findings, cells, (), len(lines), dropped, linted=True)


def _known_code(code: str) -> bool:
    return any(code_matches(code, rule_id) for rule_id in RULES if rule_id.startswith("LINT"))


def _is_test_file(path: Path) -> bool:
    name = path.name
    return name.startswith("test_") or name.endswith("_test.py") or "tests" in path.parts


def _finding(raw: RawFinding, path: Path, source: SourceFile, lines: list[str]) -> Finding:
    rule = RULES[raw.rule_id]
    cell, line = source.locate(raw.line)
    member = f"cell {cell}" if cell is not None else None
    text = lines[raw.line - 1] if 0 < raw.line <= len(lines) else ""
    # ast columns count UTF-8 bytes; editors and SARIF count characters.
    column = len(text.encode("utf-8")[: raw.column - 1].decode("utf-8", "ignore")) + 1
    evidence = text[column - 1 :].strip()[:_EVIDENCE_CHARS] or text.strip()
    details: dict[str, str | int | float | bool] = {"scope": raw.scope or "<module>"}
    if raw.end_line > raw.line:
        details["end_line"] = source.locate(raw.end_line)[1]
    if cell is not None:
        details["cell"] = cell
    return Finding(
        rule_id=raw.rule_id,
        severity=raw.severity or rule.severity,
        confidence=raw.confidence,
        location=Location(str(path), member=member, line=line, column=column),
        message=raw.message,
        evidence=evidence,
        details=details,
    )


def _lint_batch(args: tuple[list[str], LintOptions]) -> list[FileResult]:
    paths, options = args
    return [_without_gc(Path(p), options) for p in paths]


def _without_gc(path: Path, options: LintOptions) -> FileResult:
    """Lint one file with the cyclic collector paused.

    NOTE: building a syntax tree allocates hundreds of thousands of small objects, and the
    collector's repeated passes over them cost about as much as parsing itself. The trees
    hold no reference cycles (the analysis breaks its own at the end), so reference counting
    frees them; the collector is restored right after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return lint_file(path, options)
    finally:
        if enabled:
            gc.enable()


def run(files: Sequence[Path], options: LintOptions) -> Iterator[FileResult]:
    """Lint ``files``, in worker processes (one per core) when there are enough of them."""
    jobs = options.jobs or os.cpu_count() or 1
    if jobs <= 1 or len(files) < _PARALLEL_MIN_FILES:
        for path in files:
            yield _without_gc(path, options)
        return
    batches = _batches(files, jobs * 4)
    with ProcessPoolExecutor(max_workers=min(jobs, len(batches))) as pool:
        for results in pool.map(_lint_batch, [(b, options) for b in batches]):
            yield from results


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _batches(files: Sequence[Path], count: int) -> list[list[str]]:
    """Spread files over ``count`` batches, biggest first, so that workers finish together."""
    sized = sorted(((_size(p), str(p)) for p in files), reverse=True)
    batches: list[list[str]] = [[] for _ in range(min(count, len(sized)))]
    for index, (_, name) in enumerate(sized):
        batches[index % len(batches)].append(name)
    return batches
