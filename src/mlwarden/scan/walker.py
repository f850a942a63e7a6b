"""Turns the paths a user gives into the list of files to scan (recursion, globs, links)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlwarden.findings import SkippedItem

_ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "node_modules"})


@dataclass(frozen=True)
class WalkResult:
    files: tuple[Path, ...]
    skipped: tuple[SkippedItem, ...]
    missing: tuple[str, ...]


def _matches(path: Path, patterns: Sequence[str]) -> bool:
    text = path.as_posix()
    return any(fnmatch.fnmatch(text, p) or fnmatch.fnmatch(path.name, p) for p in patterns)


def _walk_dir(root: Path, skipped: list[SkippedItem]) -> Iterator[Path]:
    def on_error(err: OSError) -> None:
        skipped.append(SkippedItem(str(err.filename), f"unreadable directory: {err.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _ALWAYS_SKIPPED_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def walk(
    paths: Sequence[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    follow_symlinks: bool = False,
) -> WalkResult:
    """Expand ``paths`` into regular files, applying include/exclude globs.

    Symbolic links are reported as skipped unless ``follow_symlinks`` is set, so a scan never
    wanders outside the tree the user named.
    """
    files: list[Path] = []
    skipped: list[SkippedItem] = []
    missing: list[str] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists() and not root.is_symlink():
            missing.append(str(raw))
            continue
        candidates = _walk_dir(root, skipped) if root.is_dir() else iter([root])
        for path in candidates:
            if path.is_symlink() and not follow_symlinks:
                skipped.append(SkippedItem(str(path), "symbolic link (use --follow-symlinks)"))
            elif not path.is_file():
                skipped.append(SkippedItem(str(path), "not a regular file"))
            elif (include and not _matches(path, include)) or _matches(path, exclude):
                continue
            else:
                files.append(path)
    return WalkResult(tuple(files), tuple(skipped), tuple(missing))
