"""The corpus's building blocks: the Sample row, the Spec that writes it, markers, rule sets.

A :class:`Spec` pairs a table row (:class:`Sample`) with the function that writes the file.
Malicious payloads only ever create a marker file (:class:`Marker`) next to the corpus, so a
test can prove that scanning never executed anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Every marker file a payload would create starts with this name.
MARKER_PREFIX = "PWNED"

# Rule sets: a malicious sample is caught when at least one of its rules is reported at or
# above medium. Choose the narrowest set that still describes a correct catch.
DANGEROUS = frozenset({"SCAN-PKL-001"})
PKL_ANY = frozenset({"SCAN-PKL-001", "SCAN-PKL-002", "SCAN-PKL-003", "SCAN-PKL-005"})
DYNAMIC = frozenset({"SCAN-PKL-001", "SCAN-PKL-003"})
NESTED = frozenset({"SCAN-PKL-001", "SCAN-PKL-005"})
MALFORMED_PAYLOAD = PKL_ANY | {"SCAN-PKL-006"}
ZIP_TAMPER = PKL_ANY | {"SCAN-ARC-001"}
POLYGLOT = PKL_ANY | {"SCAN-ARC-004"}


@dataclass(frozen=True)
class Sample:
    """One row of the corpus table.

    Attributes:
        relpath: where the file is written under the corpus directory.
        malicious: whether loading it with its usual loader would run attacker code.
        family: technique family (malicious) or what users save (benign, ``benign-...``).
        expected_rules: rule ids at least one of which must be reported at >= medium
            (malicious); empty for benign samples.
        note: one line: what it is, which advisory or technique it mirrors.
        loader: how a victim loads it, for the corpus self-check (see ``loaders.py``);
            empty when it must not or cannot be loaded in a test (network, pip, GUI, ...).
    """

    relpath: str
    malicious: bool
    family: str
    expected_rules: frozenset[str]
    note: str
    loader: str = ""


@dataclass(frozen=True)
class Marker:
    """The harmless side effect of one malicious sample: creating the file ``path``."""

    path: str

    @property
    def shell(self) -> str:
        """A shell command that creates the marker."""
        return f"touch {self.path}"

    @property
    def py(self) -> str:
        """A Python statement that creates the marker."""
        return f"open({self.path!r}, 'w').close()"

    @property
    def argv(self) -> list[str]:
        return ["touch", self.path]


Writer = Callable[[Path, Marker], None]


@dataclass(frozen=True)
class Spec:
    """A table row plus the code that writes its file.

    Attributes:
        sample: the row.
        write: writes the file at the given path (its parent exists).
        needs: importable modules the writer needs; the sample is left out without them.
        quick: part of the quick (demo / fast CI) subset.
    """

    sample: Sample
    write: Writer
    needs: tuple[str, ...] = ()
    quick: bool = False


def from_bytes(make: Callable[[Marker], bytes]) -> Writer:
    """Adapt a function that returns the file's bytes into a :data:`Writer`."""

    def write(path: Path, marker: Marker) -> None:
        path.write_bytes(make(marker))

    return write


def mal(
    relpath: str,
    family: str,
    rules: frozenset[str],
    note: str,
    make: Callable[[Marker], bytes] | None = None,
    *,
    write: Writer | None = None,
    loader: str = "",
    needs: tuple[str, ...] = (),
    quick: bool = False,
) -> Spec:
    """A malicious spec under ``malicious/``; give ``make`` (bytes) or ``write`` (to a path)."""
    writer = write if write is not None else from_bytes(_required(make))
    sample = Sample(f"malicious/{relpath}", True, family, rules, note, loader)
    return Spec(sample, writer, needs, quick)


def ben(
    relpath: str,
    family: str,
    note: str,
    make: Callable[[Marker], bytes] | None = None,
    *,
    write: Writer | None = None,
    loader: str = "",
    needs: tuple[str, ...] = (),
    quick: bool = False,
) -> Spec:
    """A benign spec under ``benign/``; family names start with ``benign-``."""
    writer = write if write is not None else from_bytes(_required(make))
    sample = Sample(f"benign/{relpath}", False, f"benign-{family}", frozenset(), note, loader)
    return Spec(sample, writer, needs, quick)


def _required(make: Callable[[Marker], bytes] | None) -> Callable[[Marker], bytes]:
    if make is None:
        raise TypeError("give either make= or write=")
    return make


class Payload:
    """Pickles as ``func(*args)``: what a malicious ``__reduce__`` looks like.

    Pickling an instance only writes a reference to ``func``; nothing is called until someone
    unpickles the result, which the scanner never does.
    """

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return self.func, self.args
