"""A small hand assembler for pickle opcodes, so test pickles can be written opcode by opcode.

``pickle.dumps`` only writes the canonical encoding of an object. Scanner bypasses live in the
non-canonical corners (memoised operands, computed globals, odd frames, protocol-0 escapes,
opcodes after a broken one), so the corpus writes those bytes directly::

    Asm().proto(2).global_("os", "system").push(("touch x",)).reduce().stop().bytes()

Nothing here unpickles anything. Text opcodes (``S``, ``V``, ``I``, ``(t``) are written when the
assembler is created with ``text=True``; binary opcodes otherwise.
"""

from __future__ import annotations

import builtins
import pickle
import struct


class Asm:
    """Appends pickle opcodes to a buffer; every method returns ``self`` for chaining."""

    def __init__(self, *, text: bool = False) -> None:
        self._out = bytearray()
        self.text = text

    def bytes(self) -> builtins.bytes:
        return bytes(self._out)

    def raw(self, data: builtins.bytes) -> Asm:
        self._out += data
        return self

    def op(self, code: builtins.bytes, arg: builtins.bytes = b"") -> Asm:
        self._out += code + arg
        return self

    # -- framing and structure --------------------------------------------------------------
    def proto(self, n: int) -> Asm:
        return self.op(pickle.PROTO, bytes([n]))

    def frame(self, length: int) -> Asm:
        return self.op(pickle.FRAME, struct.pack("<Q", length))

    def stop(self) -> Asm:
        return self.op(pickle.STOP)

    def mark(self) -> Asm:
        return self.op(pickle.MARK)

    def pop(self) -> Asm:
        return self.op(pickle.POP)

    def pop_mark(self) -> Asm:
        return self.op(pickle.POP_MARK)

    def dup(self) -> Asm:
        return self.op(pickle.DUP)

    # -- scalars ------------------------------------------------------------------------------
    def none(self) -> Asm:
        return self.op(pickle.NONE)

    def bool_(self, value: bool) -> Asm:
        if self.text:
            return self.op(pickle.TRUE if value else pickle.FALSE)
        return self.op(pickle.NEWTRUE if value else pickle.NEWFALSE)

    def int_(self, n: int) -> Asm:
        if self.text:
            return self.op(pickle.INT, str(n).encode() + b"\n")
        if 0 <= n < 256:
            return self.op(pickle.BININT1, bytes([n]))
        if 0 <= n < 65536:
            return self.op(pickle.BININT2, struct.pack("<H", n))
        if -(2**31) <= n < 2**31:
            return self.op(pickle.BININT, struct.pack("<i", n))
        body = pickle.encode_long(n)
        return self.op(pickle.LONG1, bytes([len(body)]) + body)

    def float_(self, x: float) -> Asm:
        if self.text:
            return self.op(pickle.FLOAT, repr(x).encode() + b"\n")
        return self.op(pickle.BINFLOAT, struct.pack(">d", x))

    # -- strings --------------------------------------------------------------------------
    def short_binunicode(self, s: str) -> Asm:
        data = s.encode("utf-8")
        return self.op(pickle.SHORT_BINUNICODE, bytes([len(data)]) + data)

    def binunicode(self, s: str) -> Asm:
        data = s.encode("utf-8")
        return self.op(pickle.BINUNICODE, struct.pack("<I", len(data)) + data)

    def binunicode8(self, s: str) -> Asm:
        data = s.encode("utf-8")
        return self.op(pickle.BINUNICODE8, struct.pack("<Q", len(data)) + data)

    def unicode_text(self, escaped: str) -> Asm:
        """``V`` opcode: ``escaped`` is written as is (raw-unicode-escape, e.g. ``\\u006fs``)."""
        return self.op(pickle.UNICODE, escaped.encode("latin-1") + b"\n")

    def string_text(self, quoted: str) -> Asm:
        """``S`` opcode: ``quoted`` is a quoted Python-2 string literal, e.g. ``'\\x6fs'``."""
        return self.op(pickle.STRING, quoted.encode("latin-1") + b"\n")

    def short_binstring(self, data: builtins.bytes) -> Asm:
        return self.op(pickle.SHORT_BINSTRING, bytes([len(data)]) + data)

    def binstring(self, data: builtins.bytes) -> Asm:
        return self.op(pickle.BINSTRING, struct.pack("<i", len(data)) + data)

    def str_(self, s: str) -> Asm:
        if self.text:
            return self.unicode_text(s.encode("raw-unicode-escape").decode("latin-1"))
        return self.short_binunicode(s) if len(s.encode()) < 256 else self.binunicode(s)

    def bytes_(self, data: builtins.bytes) -> Asm:
        if self.text:  # protocol 0-2 writers spell bytes as _codecs.encode(latin-1 text)
            self.global_("_codecs", "encode")
            return self.mark().str_(data.decode("latin-1")).str_("latin1").op(pickle.TUPLE).reduce()
        if len(data) < 256:
            return self.op(pickle.SHORT_BINBYTES, bytes([len(data)]) + data)
        return self.op(pickle.BINBYTES, struct.pack("<I", len(data)) + data)

    def bytearray8(self, data: builtins.bytes) -> Asm:
        return self.op(pickle.BYTEARRAY8, struct.pack("<Q", len(data)) + data)

    # -- containers -----------------------------------------------------------------------
    def tuple_(self, n: int | None = None) -> Asm:
        """Close a tuple: ``TUPLE1..3`` for small binary ``n``, else ``TUPLE`` (needs MARK)."""
        if n is not None and not self.text and n <= 3:
            return self.op((pickle.EMPTY_TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3)[n])
        return self.op(pickle.TUPLE)

    def empty_list(self) -> Asm:
        return self.op(pickle.EMPTY_LIST)

    def empty_dict(self) -> Asm:
        return self.op(pickle.EMPTY_DICT)

    def append(self) -> Asm:
        return self.op(pickle.APPEND)

    def appends(self) -> Asm:
        return self.op(pickle.APPENDS)

    def setitem(self) -> Asm:
        return self.op(pickle.SETITEM)

    def setitems(self) -> Asm:
        return self.op(pickle.SETITEMS)

    def push(self, value: object) -> Asm:
        """Push a plain value with the opcodes of the assembler's mode (text or binary)."""
        if value is None:
            return self.none()
        if isinstance(value, bool):
            return self.bool_(value)
        if isinstance(value, int):
            return self.int_(value)
        if isinstance(value, float):
            return self.float_(value)
        if isinstance(value, str):
            return self.str_(value)
        if isinstance(value, bytes):
            return self.bytes_(value)
        if isinstance(value, tuple):
            return self._push_tuple(value)
        if isinstance(value, list):
            return self._push_list(value)
        if isinstance(value, dict):
            return self._push_dict(value)
        raise TypeError(f"cannot push {type(value).__name__}")

    def _push_list(self, value: list[object]) -> Asm:
        self.op(pickle.MARK if self.text else pickle.EMPTY_LIST)
        if not self.text:
            self.mark()
        for item in value:
            self.push(item)
        return self.op(pickle.LIST if self.text else pickle.APPENDS)

    def _push_dict(self, value: dict[object, object]) -> Asm:
        self.op(pickle.MARK if self.text else pickle.EMPTY_DICT)
        if not self.text:
            self.mark()
        for key, item in value.items():
            self.push(key).push(item)
        return self.op(pickle.DICT if self.text else pickle.SETITEMS)

    def _push_tuple(self, items: tuple[object, ...]) -> Asm:
        small = not self.text and len(items) <= 3
        if not small:
            self.mark()
        for item in items:
            self.push(item)
        return self.tuple_(len(items) if small else None)

    # -- globals, calls, objects ----------------------------------------------------------
    def global_(self, module: str, name: str) -> Asm:
        return self.op(pickle.GLOBAL, f"{module}\n{name}\n".encode())

    def stack_global(self) -> Asm:
        return self.op(pickle.STACK_GLOBAL)

    def stack_global_of(self, module: str, name: str) -> Asm:
        return self.str_(module).str_(name).stack_global()

    def reduce(self) -> Asm:
        return self.op(pickle.REDUCE)

    def build(self) -> Asm:
        return self.op(pickle.BUILD)

    def inst(self, module: str, name: str) -> Asm:
        """``INST``: pops args up to the last MARK and calls ``module.name(*args)``."""
        return self.op(pickle.INST, f"{module}\n{name}\n".encode())

    def obj(self) -> Asm:
        return self.op(pickle.OBJ)

    def newobj(self) -> Asm:
        return self.op(pickle.NEWOBJ)

    def newobj_ex(self) -> Asm:
        return self.op(pickle.NEWOBJ_EX)

    def call(self, module: str, name: str, *args: object, stack: bool = False) -> Asm:
        """Push ``module.name(*args)``: the global, the argument tuple and ``REDUCE``."""
        if stack:
            self.stack_global_of(module, name)
        else:
            self.global_(module, name)
        return self._push_tuple(args).reduce()

    # -- memo -----------------------------------------------------------------------------
    def put(self, idx: int) -> Asm:
        return self.op(pickle.PUT, str(idx).encode() + b"\n")

    def binput(self, idx: int) -> Asm:
        return self.op(pickle.BINPUT, bytes([idx]))

    def long_binput(self, idx: int) -> Asm:
        return self.op(pickle.LONG_BINPUT, struct.pack("<I", idx))

    def memoize(self) -> Asm:
        return self.op(pickle.MEMOIZE)

    def get(self, idx: int) -> Asm:
        return self.op(pickle.GET, str(idx).encode() + b"\n")

    def binget(self, idx: int) -> Asm:
        return self.op(pickle.BINGET, bytes([idx]))

    def long_binget(self, idx: int) -> Asm:
        return self.op(pickle.LONG_BINGET, struct.pack("<I", idx))

    # -- extension registry and persistent ids --------------------------------------------
    def ext(self, code: int) -> Asm:
        if code < 256:
            return self.op(pickle.EXT1, bytes([code]))
        if code < 65536:
            return self.op(pickle.EXT2, struct.pack("<H", code))
        return self.op(pickle.EXT4, struct.pack("<i", code))

    def persid(self, pid: str) -> Asm:
        return self.op(pickle.PERSID, pid.encode("ascii") + b"\n")

    def binpersid(self) -> Asm:
        return self.op(pickle.BINPERSID)


def framed(body: bytes, *, declared: int | None = None) -> bytes:
    """``FRAME`` header for ``body`` (its true length unless ``declared`` overrides it) + body."""
    length = len(body) if declared is None else declared
    return pickle.FRAME + struct.pack("<Q", length) + body
