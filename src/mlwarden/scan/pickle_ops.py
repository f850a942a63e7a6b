"""Opcode handlers of the symbolic pickle machine, one small function per opcode.

Semantics follow CPython's C unpickler (``Modules/_pickle.c``) reading from a file: that is
what ``pickle.load``, ``torch.load`` and ``joblib.load`` run. Each handler returns True only
for STOP.
"""

from __future__ import annotations

import codecs
import io
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlwarden.errors import MalformedInput
from mlwarden.scan.pickle_values import MARK, UNKNOWN, Container, GlobalRef, Sym

if TYPE_CHECKING:
    from mlwarden.scan.pickle_vm import PickleMachine

Handler = Callable[["PickleMachine"], bool | None]
DISPATCH: dict[int, Handler] = {}
_ITEMS = 64
_STR_KEEP = 1 << 20


def _op(code: str | int) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        DISPATCH[ord(code) if isinstance(code, str) else code] = fn
        return fn

    return register


def _u(m: PickleMachine, fmt: str) -> int:
    size = struct.calcsize(fmt)
    value: int = struct.unpack(fmt, m.reader.read_exact(size))[0]
    return value


def _text(raw: bytes, how: str) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise MalformedInput(f"{how}: operand is not UTF-8") from None


# -- structure -----------------------------------------------------------------------------
@_op("(")
def _mark(m: PickleMachine) -> None:
    m.metastack.append(m.stack)
    m.stack = []


@_op(".")
def _stop(m: PickleMachine) -> bool:
    m.obs.result = m.pop()
    return True


@_op("0")
def _pop(m: PickleMachine) -> None:
    if m.stack:
        m.stack.pop()
    else:
        m.pop_mark()


@_op("1")
def _pop_mark(m: PickleMachine) -> None:
    m.pop_mark()


@_op("2")
def _dup(m: PickleMachine) -> None:
    m.push(m.top())


@_op(0x80)
def _proto(m: PickleMachine) -> None:
    proto = m.reader.read_exact(1)[0]
    if proto > 5:
        raise MalformedInput(f"unsupported pickle protocol: {proto}")
    m.obs.protocol = proto


@_op(0x95)
def _frame(m: PickleMachine) -> None:
    # NOTE: the C unpickler only checks that the frame's bytes exist, then reads on linearly;
    # opcodes may straddle frame boundaries (unlike pickle._Unframer).
    length = _u(m, "<Q")
    if not m.reader.available(length):
        raise MalformedInput("FRAME announces more bytes than the stream holds")


# -- constants -----------------------------------------------------------------------------
@_op("N")
def _none(m: PickleMachine) -> None:
    m.push(None)


@_op(0x88)
def _true(m: PickleMachine) -> None:
    m.push(True)


@_op(0x89)
def _false(m: PickleMachine) -> None:
    m.push(False)


@_op("I")
def _int(m: PickleMachine) -> None:
    line = m.reader.readline()
    m.push({b"00": False, b"01": True}.get(line) if line in (b"00", b"01") else int(line))


@_op("L")
def _long(m: PickleMachine) -> None:
    line = m.reader.readline()
    m.push(int(line[:-1] if line.endswith(b"L") else line, 0))


@_op("F")
def _float(m: PickleMachine) -> None:
    m.push(float(m.reader.readline()))


@_op("G")
def _binfloat(m: PickleMachine) -> None:
    m.push(struct.unpack(">d", m.reader.read_exact(8))[0])


@_op("J")
def _binint(m: PickleMachine) -> None:
    m.push(_u(m, "<i"))


@_op("K")
def _binint1(m: PickleMachine) -> None:
    m.push(m.reader.read_exact(1)[0])


@_op("M")
def _binint2(m: PickleMachine) -> None:
    m.push(_u(m, "<H"))


def _long_bytes(m: PickleMachine, n: int) -> None:
    if n < 0:
        raise MalformedInput("LONG pickle has negative byte count")
    if n > _STR_KEEP:
        m.reader.skip(n)
        m.push(UNKNOWN)
        return
    m.push(int.from_bytes(m.reader.read_exact(n), "little", signed=True))


@_op(0x8A)
def _long1(m: PickleMachine) -> None:
    _long_bytes(m, m.reader.read_exact(1)[0])


@_op(0x8B)
def _long4(m: PickleMachine) -> None:
    _long_bytes(m, _u(m, "<i"))


@_op("S")
def _string(m: PickleMachine) -> None:
    line = m.reader.readline()
    if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b'"', b"'"):
        raise MalformedInput("the STRING opcode argument must be quoted")
    m.push(codecs.escape_decode(line[1:-1])[0].decode("latin-1"))


def _str_of(m: PickleMachine, n: int) -> None:
    if n < 0:
        raise MalformedInput("negative string length")
    if n > _STR_KEEP:
        m.reader.skip(n)
        m.push(UNKNOWN)
        return
    m.push(_text(m.reader.read_exact(n), "string"))


@_op("T")
def _binstring(m: PickleMachine) -> None:
    n = _u(m, "<i")
    if n < 0:
        raise MalformedInput("BINSTRING pickle has negative byte count")
    m.push(m.reader.read_exact(n).decode("latin-1") if n <= _STR_KEEP else UNKNOWN)


@_op("U")
def _short_binstring(m: PickleMachine) -> None:
    m.push(m.reader.read_exact(m.reader.read_exact(1)[0]).decode("latin-1"))


@_op("V")
def _unicode(m: PickleMachine) -> None:
    m.push(m.reader.readline().decode("raw-unicode-escape"))


@_op("X")
def _binunicode(m: PickleMachine) -> None:
    _str_of(m, _u(m, "<I"))


@_op(0x8C)
def _short_binunicode(m: PickleMachine) -> None:
    _str_of(m, m.reader.read_exact(1)[0])


@_op(0x8D)
def _binunicode8(m: PickleMachine) -> None:
    _str_of(m, _u(m, "<Q"))


@_op("B")
def _binbytes(m: PickleMachine) -> None:
    m.push(m.read_bytes_const(_u(m, "<I")))


@_op("C")
def _short_binbytes(m: PickleMachine) -> None:
    m.push(m.read_bytes_const(m.reader.read_exact(1)[0]))


@_op(0x8E)
def _binbytes8(m: PickleMachine) -> None:
    m.push(m.read_bytes_const(_u(m, "<Q")))


@_op(0x96)
def _bytearray8(m: PickleMachine) -> None:
    m.push(m.read_bytes_const(_u(m, "<Q")))


@_op(0x97)
def _next_buffer(m: PickleMachine) -> None:
    m.push(UNKNOWN)


@_op(0x98)
def _readonly_buffer(m: PickleMachine) -> None:
    m.top()


# -- containers ------------------------------------------------------------------------------
@_op(")")
def _empty_tuple(m: PickleMachine) -> None:
    m.push(())


@_op("t")
def _tuple(m: PickleMachine) -> None:
    m.push(tuple(m.pop_mark()[:_ITEMS]))


def _tuple_n(n: int) -> Handler:
    def handler(m: PickleMachine) -> None:
        items = [m.pop() for _ in range(n)]
        m.push(tuple(reversed(items)))

    return handler


DISPATCH[0x85] = _tuple_n(1)
DISPATCH[0x86] = _tuple_n(2)
DISPATCH[0x87] = _tuple_n(3)


def _new(kind: str) -> Handler:
    def handler(m: PickleMachine) -> None:
        m.push(Container(kind))

    return handler


DISPATCH[ord("]")] = _new("list")
DISPATCH[ord("}")] = _new("dict")
DISPATCH[0x8F] = _new("set")


@_op("l")
def _list(m: PickleMachine) -> None:
    c = Container("list")
    c.add(m.pop_mark(), _ITEMS)
    m.push(c)


@_op(0x91)
def _frozenset(m: PickleMachine) -> None:
    c = Container("frozenset")
    c.add(m.pop_mark(), _ITEMS)
    m.push(c)


def _pairs(items: list[Sym]) -> list[Sym]:
    if len(items) % 2:
        raise MalformedInput("odd number of items for a dict")
    return [(items[i], items[i + 1]) for i in range(0, len(items), 2)]


@_op("d")
def _dict(m: PickleMachine) -> None:
    c = Container("dict")
    c.add(_pairs(m.pop_mark()), _ITEMS)
    m.push(c)


def _extend(target: Sym, values: list[Sym]) -> None:
    # NOTE: on a non-container the unpickler calls the object's own append/extend/add/
    # __setitem__; that object was built by a judged global, so nothing new to record.
    if isinstance(target, Container):
        target.add(values, _ITEMS)


@_op("a")
def _append(m: PickleMachine) -> None:
    value = m.pop()
    _extend(m.top(), [value])


@_op("e")
def _appends(m: PickleMachine) -> None:
    items = m.pop_mark()
    _extend(m.top(), items)


@_op(0x90)
def _additems(m: PickleMachine) -> None:
    items = m.pop_mark()
    _extend(m.top(), items)


@_op("s")
def _setitem(m: PickleMachine) -> None:
    value = m.pop()
    key = m.pop()
    _extend(m.top(), [(key, value)])


@_op("u")
def _setitems(m: PickleMachine) -> None:
    items = _pairs(m.pop_mark())
    _extend(m.top(), items)


# -- memo ------------------------------------------------------------------------------------
@_op("p")
def _put(m: PickleMachine) -> None:
    m.memo_put(int(m.reader.readline()), m.top())


@_op("q")
def _binput(m: PickleMachine) -> None:
    m.memo_put(m.reader.read_exact(1)[0], m.top())


@_op("r")
def _long_binput(m: PickleMachine) -> None:
    m.memo_put(_u(m, "<I"), m.top())


@_op(0x94)
def _memoize(m: PickleMachine) -> None:
    m.memo_put(m.memo_count, m.top())


@_op("g")
def _get(m: PickleMachine) -> None:
    m.push(m.memo_get(int(m.reader.readline())))


@_op("h")
def _binget(m: PickleMachine) -> None:
    m.push(m.memo_get(m.reader.read_exact(1)[0]))


@_op("j")
def _long_binget(m: PickleMachine) -> None:
    m.push(m.memo_get(_u(m, "<I")))


# -- globals and calls ----------------------------------------------------------------------
@_op("c")
def _global(m: PickleMachine) -> None:
    module = _text(m.reader.readline(), "GLOBAL")
    name = _text(m.reader.readline(), "GLOBAL")
    m.push(m.global_ref(module, name, "GLOBAL"))


@_op(0x93)
def _stack_global(m: PickleMachine) -> None:
    name = m.pop()
    module = m.pop()
    m.push(m.global_ref(module, name, "STACK_GLOBAL"))


@_op("i")
def _inst(m: PickleMachine) -> None:
    module = _text(m.reader.readline(), "INST")
    name = _text(m.reader.readline(), "INST")
    args = m.pop_mark()
    klass = m.global_ref(module, name, "INST")
    m.push(m.call(klass, tuple(args[:_ITEMS]), "INST"))


@_op("o")
def _obj(m: PickleMachine) -> None:
    args = m.pop_mark()
    if not args:
        raise MalformedInput("OBJ without a class")
    m.push(m.call(args[0], tuple(args[1 : _ITEMS + 1]), "OBJ"))


@_op("R")
def _reduce(m: PickleMachine) -> None:
    args = m.pop()
    func = m.pop()
    if not isinstance(args, tuple) and args is not UNKNOWN:
        raise MalformedInput("REDUCE arguments must be a tuple")
    m.push(m.call(func, args if isinstance(args, tuple) else (), "REDUCE"))


@_op(0x81)
def _newobj(m: PickleMachine) -> None:
    args = m.pop()
    cls = m.pop()
    m.push(m.call(cls, args if isinstance(args, tuple) else (), "NEWOBJ"))


@_op(0x92)
def _newobj_ex(m: PickleMachine) -> None:
    m.pop()  # kwargs
    args = m.pop()
    cls = m.pop()
    m.push(m.call(cls, args if isinstance(args, tuple) else (), "NEWOBJ_EX"))


@_op("b")
def _build(m: PickleMachine) -> None:
    state = m.pop()
    m.build(m.top(), state)


def _ext(size: str) -> Handler:
    def handler(m: PickleMachine) -> None:
        code = _u(m, size)
        m.obs.ext_codes.append((m.op_offset, code))
        m.push(UNKNOWN)

    return handler


DISPATCH[0x82] = _ext("<B")
DISPATCH[0x83] = _ext("<H")
DISPATCH[0x84] = _ext("<i")


@_op("P")
def _persid(m: PickleMachine) -> None:
    m.reader.readline()
    m.push(UNKNOWN)


@_op("Q")
def _binpersid(m: PickleMachine) -> None:
    m.pop()
    m.push(UNKNOWN)


# -- sniffing ---------------------------------------------------------------------------------
#: A head that parses this many opcodes before running out is taken as a pickle.
_PLAUSIBLE_OPCODES = 8


def plausible_prefix(head: bytes) -> bool:
    """Whether ``head`` starts like a protocol 0/1 pickle (no PROTO opcode to go by)."""
    if not head or head[0] not in DISPATCH:
        return False
    from mlwarden.scan.pickle_reader import Reader
    from mlwarden.scan.pickle_vm import PickleMachine
    from mlwarden.scan.policy import Kind, Verdict

    def resolve(module: str, name: str, offset: int) -> GlobalRef:
        return GlobalRef(module, name, offset, Verdict(Kind.SAFE, "sniff"))

    machine = PickleMachine(Reader(io.BytesIO(head)), resolve, lambda: None)
    obs = machine.run()
    if obs.stopped:
        return obs.opcodes >= 2
    message = obs.error[1] if obs.error else ""
    truncated = any(word in message for word in ("truncated", "newline", "without STOP"))
    if truncated and obs.opcodes == 1 and "newline" in message:
        # One text operand longer than the head: a long protocol-0 string constant.
        return head[:1] == b"V" or (head[:1] == b"S" and head[1:2] in (b"'", b'"'))
    return truncated and obs.opcodes >= _PLAUSIBLE_OPCODES


__all__ = ["DISPATCH", "MARK", "plausible_prefix"]
