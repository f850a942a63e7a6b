"""Runs the scanners: per-file dispatch by sniffed format, parallel over files, one Report.

Flow: paths -> walker -> one :class:`Artifact` per file -> ``dispatch`` sniffs the bytes and
hands the artifact to every scanner of each format it can be read as -> findings. Containers
(zip, tar, compressed streams) call back into ``dispatch`` for their members.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.findings import Finding, ItemError, Location, Report, SkippedItem
from mlwarden.scan.base import Artifact, ScanContext, ScanLimits, finding
from mlwarden.scan.policy import PicklePolicy
from mlwarden.scan.registry import scanners_for
from mlwarden.scan.sniff import read_head_tail, sniff
from mlwarden.scan.walker import walk

#: Below this many files the pool's start-up costs more than it saves.
_PARALLEL_MIN_FILES = 8


@dataclass(frozen=True)
class ScanOptions:
    """Everything that shapes a scan, independent of where it came from (CLI, config, API)."""

    policy: PicklePolicy = field(default_factory=PicklePolicy)
    limits: ScanLimits = field(default_factory=ScanLimits)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    jobs: int = 0


@dataclass(frozen=True)
class ScanEvent:
    """Progress event emitted by :func:`scan`: ``kind`` is ``"start"`` or ``"file"``."""

    kind: str
    total: int
    done: int = 0
    path: str = ""


@dataclass(frozen=True)
class FileResult:
    path: str
    findings: tuple[Finding, ...]
    errors: tuple[ItemError, ...]
    recognized: bool
    stats: dict[str, int]


def dispatch(artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
    """Sniff ``artifact`` and run every scanner of every format it can be read as."""
    with artifact.open() as stream:
        head, tail = read_head_tail(stream, artifact.size)
    formats = sniff(head, artifact.name, artifact.size, tail)
    if not formats:
        ctx.count("unrecognized")
        return
    for fmt in formats:
        for scanner in scanners_for(fmt):
            ctx.count(f"format:{fmt}")
            yield from _run_scanner(scanner.id, scanner.scan(artifact, ctx), artifact, ctx)


def _run_scanner(
    scanner_id: str, results: Iterator[Finding], artifact: Artifact, ctx: ScanContext
) -> Iterator[Finding]:
    try:
        yield from results
    except ScanLimitExceeded as exc:
        yield finding("SCAN-GEN-001", artifact.location, f"{scanner_id}: {exc}")
    except MalformedInput as exc:
        ctx.errors.append(ItemError(str(artifact.location), f"{scanner_id}: {exc}"))
    except (OSError, EOFError) as exc:
        ctx.errors.append(ItemError(str(artifact.location), f"{scanner_id}: read error: {exc}"))
    except RecursionError:
        yield finding("SCAN-GEN-001", artifact.location, f"{scanner_id}: nesting too deep")
    except MemoryError:
        yield finding("SCAN-GEN-001", artifact.location, f"{scanner_id}: memory limit")


def scan_file(path: str | Path, options: ScanOptions) -> FileResult:
    """Scan one file on disk (and everything nested in it)."""
    path = Path(path)
    ctx = ScanContext.start(options.policy, options.limits, dispatch)
    try:
        size = path.stat().st_size
        artifact = Artifact(
            location=Location(str(path)),
            name=path.name,
            size=size,
            depth=0,
            opener=lambda: path.open("rb"),
            fs_path=path,
        )
        found = tuple(dispatch(artifact, ctx))
    except OSError as exc:
        return FileResult(str(path), (), (ItemError(str(path), str(exc)),), False, {})
    recognized = any(k.startswith("format:") for k in ctx.stats)
    return FileResult(str(path), found, tuple(ctx.errors), recognized, dict(ctx.stats))


def _scan_one(args: tuple[str, ScanOptions]) -> FileResult:
    return scan_file(*args)


def _results(files: Sequence[Path], options: ScanOptions, jobs: int) -> Iterator[FileResult]:
    if jobs <= 1 or len(files) < _PARALLEL_MIN_FILES:
        for path in files:
            yield scan_file(path, options)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_scan_one, [(str(p), options) for p in files], chunksize=4)


def scan(
    paths: Sequence[str | Path],
    options: ScanOptions | None = None,
    on_event: Callable[[ScanEvent], None] | None = None,
    *,
    policy: PicklePolicy | None = None,
) -> Report:
    """Scan files and directories for malicious or unsafe model artifacts.

    Nothing scanned is imported, unpickled or executed. One bad file never stops the scan:
    it becomes an entry in ``Report.errors`` or ``Report.skipped``.

    Args:
        paths: files and directories (recursed).
        options: policy, limits, globs and parallelism; defaults are safe.
        on_event: progress observer (the CLI plugs a progress bar in here).
        policy: shortcut for ``options.policy`` (which pickle globals are trusted).

    Returns:
        A :class:`Report` with ``command="scan"``.
    """
    options = options or ScanOptions()
    if policy is not None:
        options = replace(options, policy=policy)
    started = time.perf_counter()
    walked = walk(paths, options.include, options.exclude, options.follow_symlinks)
    jobs = options.jobs or min(os.cpu_count() or 1, 8)
    emit = on_event or (lambda _e: None)
    emit(ScanEvent("start", len(walked.files)))
    findings: list[Finding] = []
    errors: list[ItemError] = [ItemError(m, "no such file or directory") for m in walked.missing]
    skipped = list(walked.skipped)
    scanned: list[str] = []
    total_bytes = 0
    for done, result in enumerate(_results(walked.files, options, jobs), start=1):
        findings.extend(result.findings)
        errors.extend(result.errors)
        if result.recognized:
            scanned.append(result.path)
        elif not result.errors:
            skipped.append(SkippedItem(result.path, "no model format recognised"))
        total_bytes += result.stats.get("bytes", 0)
        emit(ScanEvent("file", len(walked.files), done, result.path))
    return Report(
        command="scan",
        findings=tuple(findings),
        skipped=tuple(skipped),
        errors=tuple(errors),
        scanned=tuple(scanned),
        metrics={
            "files_seen": len(walked.files),
            "files_scanned": len(scanned),
            "seconds": round(time.perf_counter() - started, 4),
        },
    )
