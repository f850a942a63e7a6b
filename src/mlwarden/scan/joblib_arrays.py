"""joblib's inline arrays: after BUILD of a NumpyArrayWrapper, joblib reads raw array bytes
(or a nested pickle for object arrays) straight from the file, in the middle of the pickle.

The machine must skip exactly what joblib reads, or it would parse array bytes as opcodes
(and an attacker could hide opcodes where a scanner thinks array data is).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlwarden.errors import MalformedInput
from mlwarden.scan.pickle_values import UNKNOWN, CallResult, Container, GlobalRef, Sym

if TYPE_CHECKING:
    from mlwarden.scan.pickle_vm import PickleMachine

_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
_HASOBJECT_FLAG = 0x01


def _dtype_info(dtype: Sym) -> tuple[int, bool]:
    """(itemsize, has_object) of a pickled numpy.dtype, as joblib's reader will see it."""
    if not isinstance(dtype, CallResult) or not dtype.args or not isinstance(dtype.args[0], str):
        raise MalformedInput("joblib array wrapper with an unreadable dtype")
    code = dtype.args[0]
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    flags = state[7] if len(state) > 7 and isinstance(state[7], int) else 0
    if code.startswith("O") or flags & _HASOBJECT_FLAG:
        return 0, True
    elsize = state[5] if len(state) > 5 and isinstance(state[5], int) else -1
    if elsize > 0:
        return elsize, False
    digits = "".join(ch for ch in code[1:] if ch.isdigit())
    if not digits:
        raise MalformedInput(f"joblib array wrapper with an unsupported dtype {code!r}")
    return int(digits), False


def _count(shape: Sym) -> int:
    dims = [d for d in shape if isinstance(d, int) and d >= 0] if isinstance(shape, tuple) else []
    if not isinstance(shape, tuple) or len(dims) != len(shape):
        raise MalformedInput("joblib array wrapper with an invalid shape")
    return math.prod(dims)


def joblib_build_hook(machine: PickleMachine, target: Sym, state: Sym) -> None:
    """After BUILD: if ``target`` is a joblib NumpyArrayWrapper, consume its array bytes."""
    if not isinstance(target, CallResult) or not isinstance(target.func, GlobalRef):
        return
    if target.func.dotted != _WRAPPER or not isinstance(state, Container):
        return
    itemsize, has_object = _dtype_info(state.get("dtype"))
    reader = machine.reader
    if has_object:
        # A complete nested pickle follows; joblib unpickles it with the same find_class.
        inner = type(machine)(
            reader, machine.resolve, machine.tick, machine.on_build, machine.max_memo
        )
        nested = inner.run()
        machine.obs.merge(nested)
        if nested.error is not None:
            raise MalformedInput(f"nested object-array pickle: {nested.error[1]}")
    else:
        if any(
            isinstance(item, tuple) and item[0] == "numpy_array_alignment_bytes"
            for item in state.items
        ):
            padding = reader.read_exact(1)[0]
            reader.skip(padding)
        reader.skip(_count(state.get("shape")) * itemsize)
    machine.stack[-1] = UNKNOWN  # the wrapper is replaced by the array it describes
