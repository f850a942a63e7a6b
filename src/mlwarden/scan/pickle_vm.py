"""A symbolic pickle machine: runs the opcodes of a pickle without running the pickle.

It keeps a stack, a mark stack and a memo of *symbolic* values, so it knows every callable the
real unpickler would resolve (GLOBAL, STACK_GLOBAL with memoised or computed operands, INST,
OBJ, NEWOBJ, REDUCE, BUILD, EXT) and what each one is applied to. It follows FRAME the way
CPython's C unpickler does when reading a file (frames only announce lengths; opcodes may
straddle them), streams its input (large byte strings are skipped, not read) and keeps every
observation made before a parse error.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from mlwarden.errors import MalformedInput, ScanLimitExceeded
from mlwarden.scan.pickle_reader import Reader
from mlwarden.scan.pickle_values import (
    MARK,
    UNKNOWN,
    BigBytes,
    CallResult,
    GlobalRef,
    Sym,
)

#: Bytes constants up to this size are kept in memory (for nested-pickle checks).
KEEP_BYTES = 1 << 20
#: Items kept per container / tuple: enough to read states, bounded memory.
KEEP_ITEMS = 64
_MAX_STACK = 5_000_000
_LINE_LIMIT = 1 << 16


@dataclass
class Observation:
    """What running a pickle symbolically revealed."""

    globals: list[GlobalRef] = field(default_factory=list)
    dynamic: list[tuple[int, str]] = field(default_factory=list)
    ext_codes: list[tuple[int, int]] = field(default_factory=list)
    loader_calls: list[tuple[GlobalRef, tuple[Sym, ...]]] = field(default_factory=list)
    patched_globals: list[tuple[GlobalRef, int]] = field(default_factory=list)
    embedded: list[BigBytes | bytes] = field(default_factory=list)
    anomalies: list[tuple[int, str]] = field(default_factory=list)
    stopped: bool = False
    result: Sym = None
    error: tuple[int, str] | None = None
    protocol: int = 0
    opcodes: int = 0

    def merge(self, other: Observation) -> None:
        """Add what a nested pickle (joblib object array) revealed."""
        self.globals += other.globals
        self.dynamic += other.dynamic
        self.ext_codes += other.ext_codes
        self.loader_calls += other.loader_calls
        self.patched_globals += other.patched_globals
        self.embedded += other.embedded
        self.opcodes += other.opcodes


def _looks_embedded(head: bytes) -> bool:
    return (len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or head[:4] == b"PK\x03\x04"


class PickleMachine:
    """Runs one pickle (up to its STOP) from ``reader`` and fills an :class:`Observation`.

    Args:
        reader: the byte source, positioned at the first opcode.
        resolve: turns (module, name, offset) into a :class:`GlobalRef` (judged by the policy).
        tick: called every few thousand opcodes (deadline checks).
        on_build: hook for formats that read extra bytes after BUILD (joblib arrays).
        max_memo: memo entries kept before older values are forgotten (bounded memory).
    """

    def __init__(
        self,
        reader: Reader,
        resolve: Callable[[str, str, int], GlobalRef],
        tick: Callable[[], None],
        on_build: Callable[[PickleMachine, Sym, Sym], None] | None = None,
        max_memo: int = 2_000_000,
    ) -> None:
        self.reader = reader
        self.resolve = resolve
        self.tick = tick
        self.on_build = on_build
        self.max_memo = max_memo
        self.obs = Observation()
        self.stack: list[Sym] = []
        self.metastack: list[list[Sym]] = []
        self.memo: dict[int, Sym] = {}
        self.memo_count = 0

    # -- running -------------------------------------------------------------------------
    def run(self) -> Observation:
        """Execute opcodes until STOP or the first error (kept in ``obs.error``)."""
        dispatch = _DISPATCH
        read_byte = self.reader.read_byte
        try:
            while True:
                start = self.reader.tell()
                code = read_byte()
                if code < 0:
                    raise MalformedInput("pickle ended without STOP")
                handler = dispatch.get(code)
                if handler is None:
                    raise MalformedInput(f"invalid opcode 0x{code:02x}")
                self.op_offset = start
                self.obs.opcodes += 1
                if not self.obs.opcodes & 0xFFF:
                    self.tick()
                if handler(self):
                    self.obs.stopped = True
                    return self.obs
        except (MalformedInput, IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:
            message = str(exc) or type(exc).__name__
            if isinstance(exc, IndexError):
                message = "stack underflow"
            self.obs.error = (self.op_offset if hasattr(self, "op_offset") else 0, message)
        return self.obs

    # -- stack helpers -----------------------------------------------------------------------
    def push(self, value: Sym) -> None:
        if len(self.stack) >= _MAX_STACK:
            raise ScanLimitExceeded(f"pickle stack deeper than {_MAX_STACK} items")
        self.stack.append(value)

    def pop(self) -> Sym:
        if not self.stack:
            raise IndexError("stack underflow")
        value = self.stack.pop()
        if value is MARK:
            raise MalformedInput("unexpected MARK on the stack")
        return value

    def pop_mark(self) -> list[Sym]:
        if not self.metastack:
            raise MalformedInput("could not find MARK")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def top(self) -> Sym:
        if not self.stack or self.stack[-1] is MARK:
            raise IndexError("stack underflow")
        return self.stack[-1]

    # -- memo ------------------------------------------------------------------------------
    def memo_put(self, index: int, value: Sym) -> None:
        if index < 0:
            raise MalformedInput("negative memo index")
        if index not in self.memo:
            self.memo_count += 1
        if len(self.memo) < self.max_memo or isinstance(value, (str, GlobalRef)):
            self.memo[index] = value

    def memo_get(self, index: int) -> Sym:
        if index in self.memo:
            return self.memo[index]
        if index < self.memo_count:
            return UNKNOWN  # forgotten to bound memory; judged conservatively
        raise MalformedInput(f"memo key {index} not found")

    # -- bytes -----------------------------------------------------------------------------
    def read_bytes_const(self, length: int) -> Sym:
        """Read a bytes constant; large ones are skipped and remembered by position only."""
        if length < 0:
            raise MalformedInput("negative byte count")
        offset = self.reader.tell()
        if length <= KEEP_BYTES:
            data = self.reader.read_exact(length)
            if _looks_embedded(data[:4]) and len(data) > 16:
                self.obs.embedded.append(data)
            return data
        head = self.reader.read_exact(16)
        self.reader.skip(length - 16)
        big = BigBytes(offset, length, head)
        if _looks_embedded(head):
            self.obs.embedded.append(big)
        return big

    # -- semantics shared by several opcodes --------------------------------------------------
    def global_ref(self, module: Sym, name: Sym, how: str) -> Sym:
        if not isinstance(module, str) or not isinstance(name, str):
            self.obs.dynamic.append((self.op_offset, f"{how} with computed operands"))
            return UNKNOWN
        ref = self.resolve(module, name, self.op_offset)
        self.obs.globals.append(ref)
        return ref

    def call(self, func: Sym, args: tuple[Sym, ...], how: str) -> Sym:
        """Apply ``func`` to ``args`` symbolically and record what that reveals."""
        if isinstance(func, GlobalRef):
            func.called = True
            if func.verdict.kind.value == "loader":
                self.obs.loader_calls.append((func, args))
        elif func is UNKNOWN or isinstance(func, CallResult):
            self.obs.dynamic.append((self.op_offset, f"{how} calls a computed callable"))
        return CallResult(func, args[:KEEP_ITEMS], self.op_offset)

    def build(self, target: Sym, state: Sym) -> None:
        if isinstance(target, GlobalRef):
            # BUILD on a class or function sets attributes on it: monkey-patching a library.
            self.obs.patched_globals.append((target, self.op_offset))
        elif isinstance(target, CallResult):
            target.state = state
        if self.on_build is not None:
            self.on_build(self, target, state)


# Opcode handlers live in pickle_ops to keep this module about the machine itself.
from mlwarden.scan.pickle_ops import DISPATCH as _DISPATCH  # noqa: E402


def run_pickle(
    stream: BinaryIO,
    resolve: Callable[[str, str, int], GlobalRef],
    tick: Callable[[], None],
) -> Observation:
    """Run a single pickle from ``stream`` (convenience for tests and simple callers)."""
    return PickleMachine(Reader(stream), resolve, tick).run()


def looks_like_pickle(head: bytes) -> bool:
    """Cheap check for protocol 0/1 pickles (no PROTO opcode): do the first opcodes parse?"""
    from mlwarden.scan.pickle_ops import plausible_prefix

    return plausible_prefix(head)
