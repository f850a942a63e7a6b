"""Expression evaluation for the interpreter: what each expression may hold, and its taints.

:class:`Evaluator` turns an expression into an abstract value (:mod:`mlwarden.linter.values`):
constants are themselves, names are looked up in the frame then the module then the imports,
attributes of a known object extend its qualified name (``torch`` -> ``torch.load``),
containers and operators carry their parts' taints, comparisons carry none. Calls are left
to the interpreter (:mod:`mlwarden.linter.interp`), which subclasses this.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlwarden.linter import flow
from mlwarden.linter.context import FileContext, Frame
from mlwarden.linter.syntax import dotted
from mlwarden.linter.values import (
    AV,
    FEEDBACK,
    REMOTE,
    REQUEST,
    UNKNOWN,
    DictV,
    Inst,
    Prefix,
    Ref,
    TupleV,
    join_all,
)

if TYPE_CHECKING:
    from mlwarden.linter.checks.base import RuleSet

CLEAN = frozenset((FEEDBACK, REMOTE, REQUEST))
ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_REMOTE = frozenset((REMOTE,))
_DIGESTS = ("digest", "sha", "hash", "checksum", "md5", "blake")
_EMPTY: frozenset[str] = frozenset()
_METRIC = re.compile(
    r"acc|auc|f1|score|metric|loss|precision|recall|rmse|mae|mse|r2|error_rate|perplexity",
    re.IGNORECASE,
)

Handler = Callable[[Any, Frame], AV]


class Evaluator:
    """Evaluates expressions of one module to abstract values (calls: see the subclass)."""

    def __init__(self, ctx: FileContext, rules: RuleSet) -> None:
        self.ctx = ctx
        self.rules = rules
        self._expr: dict[type, Handler] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.Attribute: self._attribute,
            ast.Call: self._call,
            ast.Subscript: self._subscript,
            ast.BinOp: self._binop,
            ast.JoinedStr: self._joined,
            ast.Dict: self._dict,
            ast.List: self._sequence,
            ast.Tuple: self._sequence,
            ast.Set: self._sequence,
            ast.Compare: self._compare,
            ast.BoolOp: self._boolop,
            ast.UnaryOp: self._unary,
            ast.IfExp: self._ifexp,
            ast.Await: self._passthrough,
            ast.Starred: self._passthrough,
            ast.NamedExpr: self._named,
            ast.ListComp: self._comprehension,
            ast.SetComp: self._comprehension,
            ast.GeneratorExp: self._comprehension,
            ast.DictComp: self._comprehension,
            ast.Lambda: _unknown,
            ast.Slice: self._generic,
            ast.FormattedValue: self._formatted,
        }

    def _call(self, node: ast.Call, frame: Frame) -> AV:
        raise NotImplementedError  # the interpreter resolves calls and runs the rules

    def bind(self, target: ast.expr, value: AV, frame: Frame) -> None:
        if value.taints:
            frame.tainted = True
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = self._unpack(value, len(target.elts))
            for elt, item in zip(target.elts, items, strict=True):
                self.bind(elt.value if isinstance(elt, ast.Starred) else elt, item, frame)
        elif isinstance(target, ast.Attribute):
            base = self.ev(target.value, frame)
            for rule in self.rules.on_attr_assign.get(target.attr, ()):
                rule(target, base, value, frame)
            if isinstance(target.value, ast.Name) and target.value.id == "self":
                frame.env[f"self.{target.attr}"] = value
                if frame.cls is not None:
                    key = (frame.cls, target.attr)
                    held = self.ctx.self_attrs.get(key)
                    self.ctx.self_attrs[key] = value if held is None else held.join(value)
        elif isinstance(target, ast.Subscript):
            base_name = target.value
            self.ev(target.slice, frame)
            if isinstance(base_name, ast.Name) and value.taints:
                old = frame.lookup(base_name.id) or UNKNOWN
                frame.env[base_name.id] = old.tainted(value.taints)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value, frame)

    @staticmethod
    def _unpack(value: AV, count: int) -> list[AV]:
        if not value.unknown and len(value.atoms) == 1:
            (atom,) = value.atoms
            if isinstance(atom, TupleV) and len(atom.items) == count:
                return list(atom.items)
        element = value.opaque()
        return [element] * count

    def ev(self, node: ast.expr, frame: Frame) -> AV:
        handler = self._expr.get(type(node))
        if handler is not None:
            return handler(node, frame)
        return self._generic(node, frame)

    def _formatted(self, node: ast.FormattedValue, frame: Frame) -> AV:
        return self.ev(node.value, frame).opaque()

    def _generic(self, node: ast.AST, frame: Frame) -> AV:
        taints = _EMPTY
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                value = self.ev(child, frame)
                if value.taints:
                    taints = taints | value.taints
        return AV(frozenset(), True, taints) if taints else UNKNOWN

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, frame: Frame
    ) -> AV:
        saved = frame.env
        frame.env = dict(saved)
        taints = _EMPTY
        for gen in node.generators:
            iterable = self.ev(gen.iter, frame)
            taints = taints | iterable.taints
            self.bind(gen.target, iterable.opaque(), frame)
            for cond in gen.ifs:
                self.ev(cond, frame)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            taints = taints | self.ev(part, frame).taints
        frame.env = saved
        return AV(frozenset(), True, taints) if taints else UNKNOWN

    def _constant(self, node: ast.Constant, frame: Frame) -> AV:
        value = node.value
        if isinstance(value, str | bytes | int | float | bool) or value is None:
            found = AV.const(value)
            if self.ctx.downloaded and value in self.ctx.downloaded:
                found = found.tainted(_REMOTE)
            return found
        return UNKNOWN

    def _name(self, node: ast.Name, frame: Frame) -> AV:
        name = node.id
        found = frame.env.get(name)
        if found is not None:
            return found
        if frame.globals is not None:
            found = frame.globals.get(name)
            if found is not None:
                return found
        ctx = self.ctx
        bound = ctx.imports.resolve(name)
        if bound:
            value = AV(frozenset(Ref(q) for q in bound), False)
            if any(flow.is_request_source(q) for q in bound):
                value = flow.with_request(value)
            return value
        if name in ctx.functions or name in ctx.classes:
            return AV(frozenset((Ref(f"local:{name}"),)), False)
        for candidate in ctx.imports.star_candidates(name):
            return AV(frozenset((Ref(candidate),)), True)
        return AV(frozenset((Ref(name),)), True)

    def _attribute(self, node: ast.Attribute, frame: Frame) -> AV:
        base = node.value
        if isinstance(base, ast.Name) and base.id == "self":
            held = frame.env.get(f"self.{node.attr}")
            if held is None and frame.cls is not None:
                # set by another method (``__init__``): any of its values, or something else
                other = self.ctx.self_attrs.get((frame.cls, node.attr))
                held = other.join(UNKNOWN) if other is not None else None
            return held if held is not None else UNKNOWN
        value = self.ev(base, frame)
        attr = node.attr
        atoms = frozenset(
            Ref(f"{a.name}.{attr}") if isinstance(a, Ref) else Ref(f"{a.name}().{attr}")
            for a in value.atoms
            if isinstance(a, Ref | Inst)
        )
        if not atoms:
            return AV(frozenset(), True, value.taints) if value.taints else UNKNOWN
        return AV(atoms, value.unknown, value.taints)

    def _subscript(self, node: ast.Subscript, frame: Frame) -> AV:
        value = self.ev(node.value, frame)
        key = self.ev(node.slice, frame)
        if not value.unknown and len(value.atoms) == 1 and len(key.atoms) == 1:
            (atom,) = value.atoms
            (index,) = key.atoms
            if isinstance(atom, DictV) and isinstance(index, str):
                found = atom.get(index)
                if found is not None:
                    return found
        if value.taints & CLEAN and _is_filter(node.slice):
            return AV(frozenset(), True, value.taints - CLEAN)
        return value.opaque()

    def _binop(self, node: ast.BinOp, frame: Frame) -> AV:
        left = self.ev(node.left, frame)
        right = self.ev(node.right, frame)
        taints = left.taints | right.taints
        if isinstance(node.op, ast.Add | ast.Mod):
            starts = left.prefixes()
            if starts:  # what the string starts with on the paths where it is known
                return AV(frozenset(Prefix(s) for s in starts), True, taints)
        return AV(frozenset(), True, taints) if taints else UNKNOWN

    def _joined(self, node: ast.JoinedStr, frame: Frame) -> AV:
        taints = _EMPTY
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                taints = taints | self.ev(part.value, frame).taints
        first = node.values[0] if node.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            start = AV.const(first.value)
            return AV(frozenset((Prefix(first.value),)), True, taints | start.taints)
        return AV(frozenset(), True, taints) if taints else UNKNOWN

    def _dict(self, node: ast.Dict, frame: Frame) -> AV:
        items: list[tuple[str, AV]] = []
        taints = _EMPTY
        known = True
        for key, value in zip(node.keys, node.values, strict=True):
            item = self.ev(value, frame)
            taints = taints | item.taints
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                items.append((key.value, item))
            else:
                if key is not None:
                    self.ev(key, frame)
                known = False
        if known:
            return AV(frozenset((DictV(tuple(items)),)), False, taints)
        return AV(frozenset(), True, taints)

    def _sequence(self, node: ast.List | ast.Tuple | ast.Set, frame: Frame) -> AV:
        items = tuple(self.ev(elt, frame) for elt in node.elts)
        taints = _EMPTY
        for item in items:
            taints = taints | item.taints
        if isinstance(node, ast.Set) or any(isinstance(e, ast.Starred) for e in node.elts):
            return AV(frozenset(), True, taints) if taints else UNKNOWN
        return AV(frozenset((TupleV(items),)), False, taints)

    def _compare(self, node: ast.Compare, frame: Frame) -> AV:
        operands = [node.left, *node.comparators]
        for operand in operands:
            self.ev(operand, frame)
        if not frame.guarded and any(is_digest(o) for o in operands):
            frame.guarded = True
        if any(isinstance(op, ORDERING) for op in node.ops) and any(
            _is_metric(o) for o in operands
        ):
            frame.events.add("metric-gate")
        return UNKNOWN

    def _boolop(self, node: ast.BoolOp, frame: Frame) -> AV:
        return join_all([self.ev(v, frame) for v in node.values])

    def _unary(self, node: ast.UnaryOp, frame: Frame) -> AV:
        value = self.ev(node.operand, frame)
        if isinstance(node.op, ast.Not) and not value.unknown:
            truths = {not a for a in value.atoms if isinstance(a, bool | int | str | float)}
            if len(truths) == len(value.atoms) or len(truths) == 1:
                return AV(frozenset(truths), False, value.taints)
        if isinstance(node.op, ast.USub) and not value.unknown:
            nums = [a for a in value.atoms if isinstance(a, int | float)]
            if len(nums) == len(value.atoms):
                return AV(frozenset(-n for n in nums), False, value.taints)
        return value.opaque()

    def _ifexp(self, node: ast.IfExp, frame: Frame) -> AV:
        self.ev(node.test, frame)
        return self.ev(node.body, frame).join(self.ev(node.orelse, frame))

    def _passthrough(self, node: ast.Await | ast.Starred, frame: Frame) -> AV:
        return self.ev(node.value, frame)

    def _named(self, node: ast.NamedExpr, frame: Frame) -> AV:
        value = self.ev(node.value, frame)
        self.bind(node.target, value, frame)
        return value


def _unknown(node: ast.AST, frame: Frame) -> AV:
    return UNKNOWN


def _is_filter(node: ast.expr) -> bool:
    """A boolean mask or query (``df[(df.x > 0) & (df.x < 9)]``): rows filtered by value."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Compare) and any(isinstance(o, ORDERING) for o in sub.ops):
            return True
        if isinstance(sub, ast.Call) and dotted(sub.func).rpartition(".")[2] in (
            "between",
            "isin",
            "notna",
            "quantile",
        ):
            return True
    return False


def is_digest(node: ast.expr) -> bool:
    """An operand of a comparison that is a content digest (``sha256(...).hexdigest()``)."""
    if isinstance(node, ast.Call):
        text = dotted(node.func).lower()
        return any(d in text for d in _DIGESTS)
    if isinstance(node, ast.Name | ast.Attribute):
        text = dotted(node).lower()
        return any(d in text for d in ("digest", "sha256", "checksum", "expected_hash", "sha512"))
    return False


def _is_metric(node: ast.expr) -> bool:
    """An operand that names a quality metric (``acc``, ``metrics["auc"]``, ``f1_score(...)``)."""
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return _METRIC.search(key.value) is not None
        node = node.value
    if isinstance(node, ast.Call):
        node = node.func
    text = dotted(node)
    return bool(text) and _METRIC.search(text) is not None
