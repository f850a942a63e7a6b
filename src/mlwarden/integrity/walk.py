"""Lists the files of a model: ignore rules, and refusal of links, special files and odd names.

A model is a directory (every regular file under it) or a single file. Nothing outside the
model is read: symbolic links are refused unless allowed (then a link to a file is hashed as
its target; a link to a directory is still refused, so walks cannot loop), special files
(FIFOs, sockets, devices) are always refused, and so are names that are not valid UTF-8
(a signed manifest is JSON). Git metadata and the signature itself are ignored by default.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from mlwarden.integrity.errors import HashingError
from mlwarden.integrity.manifest import SINGLE_FILE

#: Paths model_signing ignores by default (relative to the model root).
GIT_PATHS: tuple[str, ...] = (".git", ".gitattributes", ".github", ".gitignore")
_GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in pattern)


def _clean(path: str) -> str:
    path = path.replace(os.sep, "/") if os.sep != "/" else path
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/")


@dataclass(frozen=True)
class IgnoreRules:
    """What to leave out: literal relative paths (a file, or a directory and everything in
    it, as model_signing records them) and glob patterns (a pattern without ``/`` matches a
    name at any depth, like ``.gitignore``)."""

    paths: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()

    @classmethod
    def of(cls, patterns: tuple[str, ...] | list[str]) -> IgnoreRules:
        cleaned = [_clean(p) for p in patterns if _clean(p)]
        return cls(
            tuple(p for p in cleaned if not is_glob(p)), tuple(p for p in cleaned if is_glob(p))
        )

    def __add__(self, other: IgnoreRules) -> IgnoreRules:
        return IgnoreRules(self.paths + other.paths, self.globs + other.globs)

    def matches(self, name: str) -> bool:
        """Whether the relative POSIX path ``name`` is ignored (the path itself, not parents)."""
        if any(name == p or name.startswith(p + "/") for p in self.paths):
            return True
        base = name.rsplit("/", 1)[-1]
        return any(
            fnmatchcase(name, g) or ("/" not in g and fnmatchcase(base, g)) for g in self.globs
        )


@dataclass(frozen=True)
class FileEntry:
    """A regular file of the model, as listed."""

    name: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Listing:
    """The files of a model and the names left out by ignore rules (top-most only)."""

    root: Path
    single_file: bool
    files: tuple[FileEntry, ...]
    ignored: tuple[str, ...]


def list_model(
    root: Path, rules: IgnoreRules, *, allow_symlinks: bool = False, max_files: int = 1_000_000
) -> Listing:
    """List a model's files.

    Raises:
        HashingError: the path is missing or unreadable, a link is not allowed, a special file
            or a non-UTF-8 name is found, or there are more than ``max_files`` files.
    """
    try:
        lst = root.lstat()
    except OSError as exc:
        raise HashingError(f"cannot read the model {str(root)!r}: {exc.strerror}") from None
    if stat.S_ISLNK(lst.st_mode) and not allow_symlinks:
        raise HashingError(f"the model path {str(root)!r} is a symbolic link (--allow-symlinks)")
    try:
        st = root.stat()
    except OSError as exc:
        raise HashingError(f"cannot read the model {str(root)!r}: {exc.strerror}") from None
    if stat.S_ISREG(st.st_mode):
        entry = FileEntry(SINGLE_FILE, root, st.st_size, st.st_mtime_ns)
        return Listing(root, True, (entry,), ())
    if not stat.S_ISDIR(st.st_mode):
        raise HashingError(f"the model {str(root)!r} is neither a file nor a directory")
    return _walk(root, rules, allow_symlinks, max_files)


def _walk(root: Path, rules: IgnoreRules, allow_symlinks: bool, max_files: int) -> Listing:
    files: list[FileEntry] = []
    ignored: list[str] = []
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        for entry in _scan(directory, prefix):
            name = f"{prefix}{entry.name}"
            _check_utf8(name)
            if rules.matches(name):
                ignored.append(name)
                continue
            kind = _kind(entry, name, allow_symlinks)
            if kind == "dir":
                pending.append((Path(entry.path), name + "/"))
                continue
            st = entry.stat(follow_symlinks=True)
            files.append(FileEntry(name, Path(entry.path), st.st_size, st.st_mtime_ns))
            if len(files) > max_files:
                raise HashingError(
                    f"the model has more than {max_files} files",
                    hint="Raise --max-files (integrity max_files) if this is expected.",
                )
    return Listing(root, False, tuple(files), tuple(sorted(ignored)))


def _scan(directory: Path, prefix: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return list(it)
    except OSError as exc:
        where = prefix.rstrip("/") or str(directory)
        raise HashingError(f"cannot read directory {where!r}: {exc.strerror}") from None


def _kind(entry: os.DirEntry[str], name: str, allow_symlinks: bool) -> str:
    try:
        if entry.is_symlink():
            if not allow_symlinks:
                raise HashingError(f"{name!r} is a symbolic link; pass --allow-symlinks to follow")
            if entry.is_dir(follow_symlinks=True):
                raise HashingError(f"{name!r} links to a directory; only file links are followed")
        mode = entry.stat(follow_symlinks=True).st_mode
    except OSError as exc:
        raise HashingError(f"cannot read {name!r}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        return "dir"
    if not stat.S_ISREG(mode):
        raise HashingError(f"{name!r} is not a regular file (FIFO, socket or device)")
    return "file"


def _check_utf8(name: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "backslashreplace").decode("ascii", "replace")
        raise HashingError(
            f"file name is not valid UTF-8: {shown!r}",
            hint="Rename the file; signed manifests store names as UTF-8 JSON.",
        ) from None


def inside(root: Path, path: Path) -> str | None:
    """``path`` relative to the model directory ``root`` (POSIX), or None when outside it."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    text = rel.as_posix()
    return None if text in ("", ".") else text
