"""Evaluates constant Jinja expressions symbolically, to see the names a template builds.

Template-injection payloads hide attribute names by building them from pieces:
``'__cla' ~ 'ss__'``, ``'_' * 2``, ``['__', 'class__'] | join``, ``'%c%c' | format(95, 95)``,
``'__ssalc__' | reverse``, ``'x__'[1:]``. :class:`ConstEvaluator` computes the possible string
values of such an expression from the jinja2 AST alone, following ``{% set %}`` assignments,
with bounds on size, depth, candidates and steps. Anything not constant is unknown (``None``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Value = Any  # str, int, float, bool, None or a list of those
Candidates = list[Value]

MAX_STRING = 4096
MAX_CANDIDATES = 16
_MAX_DEPTH = 24
_MAX_STEPS = 200_000
_UNSAFE_PERCENT = re.compile(r"%[^a-zA-Z%]*(?:\d{3,}|\*)")
_STR_METHODS: Mapping[str, Callable[..., Value]] = {
    "join": str.join,
    "replace": str.replace,
    "lower": str.lower,
    "upper": str.upper,
    "strip": str.strip,
    "lstrip": str.lstrip,
    "rstrip": str.rstrip,
    "swapcase": str.swapcase,
    "title": str.title,
    "capitalize": str.capitalize,
}
_EVAL_ERRORS = (TypeError, ValueError, IndexError, KeyError, OverflowError, ZeroDivisionError)


class _Unknown(Exception):
    """The expression's value cannot be known without rendering."""


def _text(value: Value) -> str:
    return str(value)


def _bounded(value: Value) -> Value:
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise _Unknown
    if isinstance(value, list) and (len(value) > MAX_STRING or not all(map(_plain, value))):
        raise _Unknown
    return value


def _plain(value: Value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _repeat(left: Value, right: Value) -> Value:
    text, count = (left, right) if isinstance(left, (str, list)) else (right, left)
    if not isinstance(count, int) or count < 0 or len(text) * count > MAX_STRING:
        raise _Unknown
    return text * count


def _percent(fmt: Value, args: Sequence[Value]) -> Value:
    if not isinstance(fmt, str) or _UNSAFE_PERCENT.search(fmt):
        raise _Unknown
    return fmt % tuple(args)


def _join(value: Value, sep: Value = "") -> Value:
    if not isinstance(value, (str, list)):
        raise _Unknown
    return _text(sep).join(_text(v) for v in value)


def _replace(value: Value, old: Value, new: Value, count: Value = -1) -> Value:
    result = _text(value).replace(_text(old), _text(new), count)
    return _bounded(result)


_FILTERS: Mapping[str, Callable[..., Value]] = {
    "join": _join,
    "format": lambda value, *args: _percent(value, args),
    "reverse": lambda value: value[::-1] if isinstance(value, (str, list)) else _fail(),
    "lower": lambda value: _text(value).lower(),
    "upper": lambda value: _text(value).upper(),
    "capitalize": lambda value: _text(value).capitalize(),
    "title": lambda value: _text(value).title(),
    "trim": lambda value, chars=None: _text(value).strip(chars),
    "string": _text,
    "list": lambda value: list(value) if isinstance(value, (str, list)) else _fail(),
    "first": lambda value: value[0],
    "last": lambda value: value[-1],
    "replace": _replace,
}


def _fail() -> Value:
    raise _Unknown


class ConstEvaluator:
    """Computes the possible constant values of jinja2 expression nodes.

    Args:
        symbols: for each assigned name (``x`` or ``ns.attr``), the expressions assigned to
            it; a ``None`` entry means "assigned something unknown" (a loop variable).
    """

    def __init__(self, symbols: Mapping[str, Sequence[object | None]]) -> None:
        self._symbols = symbols
        self._resolving: set[str] = set()
        self._steps = 0

    def values(self, node: object) -> Candidates | None:
        """All values ``node`` can take, or ``None`` when any of them is unknown."""
        try:
            return self._eval(node, 0)
        except (_Unknown, RecursionError, MemoryError, *_EVAL_ERRORS):
            return None

    def _eval(self, node: object, depth: int) -> Candidates:
        self._steps += 1
        if depth > _MAX_DEPTH or self._steps > _MAX_STEPS:
            raise _Unknown
        method = getattr(self, f"_ev_{type(node).__name__}", None)
        if method is None:
            raise _Unknown
        result: Candidates = method(node, depth + 1)
        if not result or len(result) > MAX_CANDIDATES:
            raise _Unknown
        return [_bounded(value) for value in result]

    def _combine(
        self, parts: Iterable[object], depth: int, fold: Callable[..., Value]
    ) -> Candidates:
        options = [self._eval(part, depth) for part in parts]
        combos = itertools.islice(itertools.product(*options), MAX_CANDIDATES + 1)
        return [fold(*combo) for combo in combos]

    def _lookup(self, key: str, depth: int) -> Candidates:
        assigned = self._symbols.get(key)
        if not assigned or key in self._resolving:
            raise _Unknown
        self._resolving.add(key)
        try:
            out: Candidates = []
            for expr in assigned:
                if expr is None:
                    raise _Unknown
                out.extend(v for v in self._eval(expr, depth) if v not in out)
            return out
        finally:
            self._resolving.discard(key)

    def _ev_Const(self, node: Any, depth: int) -> Candidates:
        if not _plain(node.value):
            raise _Unknown
        return [node.value]

    def _ev_List(self, node: Any, depth: int) -> Candidates:
        return self._combine(node.items, depth, lambda *items: list(items))

    _ev_Tuple = _ev_List

    def _ev_Concat(self, node: Any, depth: int) -> Candidates:
        return self._combine(node.nodes, depth, lambda *parts: "".join(map(_text, parts)))

    def _ev_Add(self, node: Any, depth: int) -> Candidates:
        return self._combine((node.left, node.right), depth, lambda a, b: a + b)

    def _ev_Mul(self, node: Any, depth: int) -> Candidates:
        return self._combine((node.left, node.right), depth, _repeat)

    def _ev_Mod(self, node: Any, depth: int) -> Candidates:
        def fold(fmt: Value, args: Value) -> Value:
            return _percent(fmt, args if isinstance(args, list) else [args])

        return self._combine((node.left, node.right), depth, fold)

    def _ev_Neg(self, node: Any, depth: int) -> Candidates:
        return [-v for v in self._eval(node.node, depth)]

    def _ev_Name(self, node: Any, depth: int) -> Candidates:
        return self._lookup(node.name, depth)

    def _ev_Getattr(self, node: Any, depth: int) -> Candidates:
        if type(node.node).__name__ != "Name":
            raise _Unknown
        return self._lookup(f"{node.node.name}.{node.attr}", depth)

    def _ev_CondExpr(self, node: Any, depth: int) -> Candidates:
        if node.expr2 is None:
            raise _Unknown
        return self._eval(node.expr1, depth) + self._eval(node.expr2, depth)

    def _ev_Getitem(self, node: Any, depth: int) -> Candidates:
        if type(node.arg).__name__ == "Slice":
            bounds = [node.arg.start, node.arg.stop, node.arg.step]
            parts = [node.node, *(b for b in bounds if b is not None)]

            def cut(value: Value, *given: Value) -> Value:
                it = iter(given)
                start, stop, step = (None if b is None else next(it) for b in bounds)
                return value[start:stop:step]

            return self._combine(parts, depth, cut)
        return self._combine((node.node, node.arg), depth, lambda value, key: value[key])

    def _ev_Filter(self, node: Any, depth: int) -> Candidates:
        fold = _FILTERS.get(node.name)
        if fold is None or node.node is None or node.kwargs or node.dyn_args:
            raise _Unknown
        return self._combine([node.node, *node.args], depth, fold)

    def _ev_Call(self, node: Any, depth: int) -> Candidates:
        func = node.node
        if type(func).__name__ == "Name" and func.name == "dict" and not node.args:
            return [[kw.key for kw in node.kwargs]]
        method = _STR_METHODS.get(getattr(func, "attr", ""))
        if type(func).__name__ != "Getattr" or method is None or node.kwargs or node.dyn_args:
            raise _Unknown

        def call(value: Value, *args: Value) -> Value:
            if not isinstance(value, str):
                raise _Unknown
            return method(value, *args)

        return self._combine([func.node, *node.args], depth, call)
