"""Symbolic values of the pickle machine: what sits on its stack and in its memo.

Plain constants (str, int, float, bool, None, small bytes) are themselves; everything the
real unpickler would build by calling code is a :class:`CallResult` that remembers what was
called with what, so that later opcodes can be judged in context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from mlwarden.scan.policy import Verdict


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The MARK opcode's stack entry.
MARK = _Marker("MARK")
#: A value the machine cannot know (persistent ids, forgotten memo entries, buffers).
UNKNOWN = _Marker("UNKNOWN")


@dataclass(eq=False)
class GlobalRef:
    """A callable or class the unpickler resolves by name."""

    module: str
    name: str
    offset: int
    verdict: Verdict
    called: bool = False

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class CallResult:
    """The result of calling ``func`` with ``args`` (REDUCE, NEWOBJ, INST, OBJ)."""

    func: Sym
    args: tuple[Sym, ...]
    offset: int
    state: Sym = None


@dataclass(eq=False)
class BigBytes:
    """A bytes constant too large to keep: its position in the stream and first bytes."""

    offset: int
    length: int
    head: bytes


@dataclass(eq=False)
class Container:
    """A list, dict, set or frozenset; keeps its first items only (bounded memory)."""

    kind: str
    items: list[Sym] = field(default_factory=list)
    size: int = 0

    def add(self, values: list[Sym], limit: int) -> None:
        room = limit - len(self.items)
        if room > 0:
            self.items.extend(values[:room])
        self.size += len(values)

    def get(self, key: str) -> Sym:
        """For dicts: the value stored under the constant ``key`` (None when absent)."""
        for item in self.items:
            if isinstance(item, tuple) and len(item) == 2 and item[0] == key:
                value: Sym = item[1]
                return value
        return None


Sym = Union[
    str,
    bytes,
    int,
    float,
    bool,
    None,
    "tuple[Sym, ...]",
    GlobalRef,
    CallResult,
    BigBytes,
    Container,
    _Marker,
]
