"""What every archive scanner does with a member: name checks, child artifacts, guarded scans.

Members go back through ``ctx.scan_child`` so that every format scanner sees them. A stream
that turns out to be a decompression bomb or corrupt while the dispatcher sniffs it is
reported here, for the member, instead of escaping as a traceback.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from mlwarden.findings import Finding, ItemError, Location
from mlwarden.scan._archive_io import (
    BOMBS_KEY,
    MAX_BOMBS,
    MEMBERS_KEY,
    CorruptStream,
    DecompressionBomb,
    StreamState,
)
from mlwarden.scan.base import Artifact, ScanContext, finding

_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[/\\]")
#: Header findings per archive beyond which the rest are summarised in one.
MAX_NOTES = 32


def unsafe_name_reason(name: str) -> str | None:
    """Why extracting a member called ``name`` would write outside the target, if it would."""
    if name.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive-letter path"
    if ".." in _SEPARATORS.split(name):
        return "'..' path component"
    return None


def unsafe_name_finding(parent: Artifact, name: str) -> Iterator[Finding]:
    """Yield SCAN-ARC-005 when ``name`` escapes the extraction directory."""
    reason = unsafe_name_reason(name)
    if reason is not None:
        yield finding(
            "SCAN-ARC-005",
            parent.child_location(name),
            f"unsafe member name ({reason}): extracting it writes outside the target directory",
            evidence=name,
        )


def link_escapes(name: str, target: str, *, hard: bool = False) -> bool:
    """Whether a link ``name`` -> ``target`` resolves outside the extraction directory.

    Symbolic link targets are relative to the link's folder, hard link targets to the archive
    root. Links that stay inside (a Hugging Face cache snapshot pointing into ``blobs/``)
    are what benign archives hold; tarfile's ``data`` filter accepts them too.
    """
    target = target.replace("\\", "/")
    if not target or target.startswith("/") or _DRIVE.match(target):
        return True
    folder = "" if hard else posixpath.dirname(name.replace("\\", "/"))
    resolved = posixpath.normpath(posixpath.join(folder, target))
    return resolved == ".." or resolved.startswith("../")


def link_findings(
    parent: Artifact, name: str, kind: str, target: str, *, hard: bool = False
) -> Iterator[Finding]:
    """SCAN-ARC-005 for a link member whose target is outside the extraction directory."""
    if link_escapes(name, target, hard=hard):
        yield finding(
            "SCAN-ARC-005",
            parent.child_location(name),
            f"member is a {kind} to outside the extraction directory",
            evidence=f"{name} -> {target}",
        )


def special_finding(parent: Artifact, name: str) -> Finding:
    """SCAN-ARC-005 for a device or FIFO member, which no model archive needs."""
    return finding(
        "SCAN-ARC-005",
        parent.child_location(name),
        "member is a device node or FIFO: extracting it creates one",
        evidence=name,
    )


def member_artifact(
    parent: Artifact,
    name: str,
    size: int | None,
    opener: Callable[[], BinaryIO],
    container: str,
    siblings: frozenset[str],
) -> Artifact:
    """The child :class:`Artifact` for member ``name`` of ``parent``."""
    return Artifact(
        location=parent.child_location(name),
        name=name,
        size=size,
        depth=parent.depth + 1,
        opener=opener,
        container=container,
        siblings=siblings,
    )


def scan_member(
    ctx: ScanContext, child: Artifact, state: StreamState | None = None
) -> Iterator[Finding]:
    """Scan ``child``; report a decompression bomb or corrupt data found along the way.

    Members are counted for the whole top-level file, nested archives included: fan-out
    nesting (each level holding many copies of the next) cannot multiply the work unbounded.
    """
    ctx.count(MEMBERS_KEY)
    if ctx.stats[MEMBERS_KEY] > ctx.limits.max_members:
        if ctx.stats[MEMBERS_KEY] == ctx.limits.max_members + 1:
            message = f"more than {ctx.limits.max_members} archive members; the rest not scanned"
            yield finding("SCAN-GEN-001", child.location, message)
        return
    try:
        yield from ctx.scan_child(child)
    except DecompressionBomb as exc:
        yield from bomb_findings(ctx, child.location, str(exc))
        return
    except CorruptStream as exc:
        ctx.errors.append(ItemError(str(child.location), str(exc)))
        return
    if state is None:
        return
    if state.bomb is not None:
        yield from bomb_findings(ctx, child.location, state.bomb)
    elif state.truncated:
        ctx.errors.append(ItemError(str(child.location), "compressed data ends early"))


def bomb_findings(ctx: ScanContext, location: Location, detail: str) -> Iterator[Finding]:
    """SCAN-ARC-003 for one bomb; SCAN-GEN-001 too when bombs are many enough to stop."""
    ctx.count(BOMBS_KEY)
    message = f"decompression bomb: {detail}; its content was not scanned (further)"
    yield finding("SCAN-ARC-003", location, message)
    if ctx.stats[BOMBS_KEY] == MAX_BOMBS:
        stop = f"{MAX_BOMBS} decompression bombs: the rest of the file was not scanned"
        yield finding("SCAN-GEN-001", location, stop)


def notes_findings(parent: Artifact, notes: list[tuple[str | None, str]]) -> Iterator[Finding]:
    """SCAN-ARC-001 for each header disagreement, at most :data:`MAX_NOTES` of them."""
    for member, message in notes[:MAX_NOTES]:
        location = parent.location if member is None else parent.child_location(member)
        yield finding("SCAN-ARC-001", location, f"archive headers disagree: {message}")
    if len(notes) > MAX_NOTES:
        yield finding(
            "SCAN-ARC-001",
            parent.location,
            f"{len(notes) - MAX_NOTES} more header disagreements not listed",
        )
