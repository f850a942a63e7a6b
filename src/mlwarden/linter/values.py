"""Abstract values for constant and taint propagation: what an expression may hold.

An :class:`AV` is a small set of possible constants (``"main"``, ``True``, a reference to a
named object such as ``yaml.SafeLoader``, the result of calling ``tarfile.open``) plus a flag
saying the value may also be something unknown, plus taint labels saying where the data came
from (an HTTP request, a remote URL, a probability vector). Joining two values (the two arms
of an ``if``) unions all three, so "``True`` on every path" and "maybe ``False``" stay
distinguishable from "unknown".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

#: Taint labels.
REQUEST: Final = "request"  # data from an HTTP request or user upload
REMOTE: Final = "remote"  # data fetched from a URL, bucket or hub
PROBA: Final = "proba"  # probability vectors, confidence scores, logits
FEEDBACK: Final = "feedback"  # user feedback (labels, corrections) for online learning
LOCAL: Final = "local"  # a path that is certainly on the local disk

_NO_TAINT: frozenset[str] = frozenset()
_REMOTE_SCHEMES = ("http://", "https://", "s3://", "gs://", "gcs://", "ftp://", "hf://", "az://")
_HEX40 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Ref:
    """A reference to a named object (``torch.load``, ``yaml.SafeLoader``, ``local:fn``)."""

    name: str


@dataclass(frozen=True)
class Inst:
    """The result of calling a named object (``tarfile.open(...)`` -> ``Inst("tarfile.open")``)."""

    name: str


@dataclass(frozen=True)
class Prefix:
    """A string known only by its start (an f-string or concatenation)."""

    text: str


@dataclass(frozen=True)
class DictV:
    """A dict literal with constant keys (for ``**kwargs`` expansion)."""

    items: tuple[tuple[str, AV], ...]

    def get(self, key: str) -> AV | None:
        for name, value in self.items:
            if name == key:
                return value
        return None


@dataclass(frozen=True)
class TupleV:
    """A tuple or list literal whose items are known (for unpacking)."""

    items: tuple[AV, ...]


Atom = str | bytes | int | float | bool | None | Ref | Inst | Prefix | DictV | TupleV


@dataclass(frozen=True)
class AV:
    """An abstract value: possible atoms, whether it may be unknown, and its taints."""

    atoms: frozenset[Atom] = frozenset()
    unknown: bool = True
    taints: frozenset[str] = _NO_TAINT

    @staticmethod
    def const(value: Atom) -> AV:
        taints = _NO_TAINT
        if isinstance(value, str) and value.startswith(_REMOTE_SCHEMES):
            taints = _REMOTE_TAINT
        return AV(frozenset((value,)), False, taints)

    def join(self, other: AV) -> AV:
        if other is self:
            return self
        return AV(
            self.atoms | other.atoms, self.unknown or other.unknown, self.taints | other.taints
        )

    def tainted(self, taints: frozenset[str]) -> AV:
        if not taints or taints <= self.taints:
            return self
        return AV(self.atoms, self.unknown, self.taints | taints)

    def untainted(self, taints: frozenset[str]) -> AV:
        if not (self.taints & taints):
            return self
        return AV(self.atoms, self.unknown, self.taints - taints)

    def opaque(self) -> AV:
        """The same taints, but the value itself unknown (a call or operator result)."""
        return AV(frozenset(), True, self.taints) if self.taints else UNKNOWN

    # Queries used by the rules -------------------------------------------------------------

    def always(self, value: object) -> bool:
        """True when the value is ``value`` on every path (and never unknown)."""
        if not self.atoms or self.unknown:
            return False
        if isinstance(value, bool) or value is None:
            return all(a is value for a in self.atoms)
        return all(not isinstance(a, bool) and a == value for a in self.atoms)

    def maybe(self, value: object) -> bool:
        """True when some path gives exactly ``value`` (``is`` for bools/None, else ``==``)."""
        if isinstance(value, bool) or value is None:
            return any(a is value for a in self.atoms)
        return any(not isinstance(a, bool) and a == value for a in self.atoms)

    def strings(self) -> list[str]:
        return [a for a in self.atoms if isinstance(a, str)]

    def refs(self) -> list[str]:
        return [a.name for a in self.atoms if isinstance(a, Ref)]

    def insts(self) -> list[str]:
        return [a.name for a in self.atoms if isinstance(a, Inst)]

    def prefixes(self) -> list[str]:
        """Every known string start: whole strings and f-string/concatenation prefixes."""
        return [
            a if isinstance(a, str) else a.text for a in self.atoms if isinstance(a, str | Prefix)
        ]

    def only_strings(self) -> bool:
        return not self.unknown and bool(self.atoms) and all(isinstance(a, str) for a in self.atoms)


UNKNOWN: Final = AV()
_REMOTE_TAINT: frozenset[str] = frozenset((REMOTE,))


def is_commit_sha(value: str) -> bool:
    """A full 40-hex commit id (tags and branch names can move; commits cannot)."""
    return _HEX40.fullmatch(value) is not None


def pinned_revision(value: AV | None) -> bool | None:
    """True: every path pins a commit; False: some path gives a movable ref; None: unknown."""
    if value is None:
        return False
    strings = value.strings()
    if any(not is_commit_sha(s) for s in strings) or value.maybe(None):
        return False
    if value.unknown or not strings:
        return None
    return True


def truthiness(value: AV | None) -> bool | None:
    """True/False when every path agrees on a constant truth value; None when unknown."""
    if value is None or value.unknown or not value.atoms:
        return None
    truths = set()
    for atom in value.atoms:
        if isinstance(atom, str | bytes | int | float | bool) or atom is None:
            truths.add(bool(atom))
        else:
            return None
    return truths.pop() if len(truths) == 1 else None


def may_be_true(value: AV | None) -> bool | None:
    """True when some path is truthy for sure; None when only unknown paths could be."""
    if value is None:
        return False
    consts = [
        a for a in value.atoms if isinstance(a, str | bytes | int | float | bool) or a is None
    ]
    if any(bool(a) for a in consts):
        return True
    if value.unknown or len(consts) < len(value.atoms):
        return None
    return False


def join_all(values: list[AV]) -> AV:
    """Join a list of values (``UNKNOWN`` for an empty list)."""
    if not values:
        return UNKNOWN
    out = values[0]
    for value in values[1:]:
        out = out.join(value)
    return out


def taints_of(values: list[AV]) -> frozenset[str]:
    out = _NO_TAINT
    for value in values:
        if value.taints:
            out = out | value.taints
    return out
