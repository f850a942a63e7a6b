"""The single-pass abstract interpreter that every lint rule rides on.

It walks a function body statement by statement, keeping an environment of abstract values
(:mod:`mlwarden.linter.values`): assignments bind, ``if``/``try``/loops fork and join, a
branch that always returns or raises does not flow on. Every expression is evaluated once;
every call is resolved to qualified names (imports and variable aliases followed) and handed
to the rules registered for its last name part or its keywords. Calls into functions of the
same file with tainted arguments (a request object) are followed a few levels deep, so a
prediction made in a helper is still attributed to the route that feeds it.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from mlwarden.linter import flow
from mlwarden.linter.context import Call, FileContext, Frame, FunctionNode, RouteInfo, expand_kwargs
from mlwarden.linter.expressions import CLEAN, ORDERING, Evaluator, is_digest
from mlwarden.linter.imports import canonical
from mlwarden.linter.limits import is_limit_text
from mlwarden.linter.syntax import dotted
from mlwarden.linter.values import (
    AV,
    PROBA,
    UNKNOWN,
    Inst,
    Ref,
    join_all,
)

if TYPE_CHECKING:
    from mlwarden.linter.checks.base import RuleSet

_MAX_DEPTH = 3
_CLEAN = CLEAN
_ORDERING = ORDERING
_ABORTS = frozenset(("abort", "exit", "_exit", "fail", "reject", "bad_request"))
_EMPTY: frozenset[str] = frozenset()
_GUARD_TEXT = re.compile(
    r"digest|sha\d|sha_?256|hashlib|checksum|verif|signature|signing", re.IGNORECASE
)


class Interpreter(Evaluator):
    """Interprets the functions of one module and feeds the rules."""

    def __init__(self, ctx: FileContext, rules: RuleSet) -> None:
        super().__init__(ctx, rules)
        self._guard_functions: dict[str, bool] = {}

    # Entry points ------------------------------------------------------------------------

    def run_module(self) -> Frame:
        frame = Frame(self.ctx, None)
        self.block(self.ctx.tree.body, frame)
        self.ctx.module_env = frame.env
        self.ctx.module_tainted = frame.tainted
        return frame

    def run_function(
        self,
        func: FunctionNode,
        *,
        cls: str | None = None,
        route: RouteInfo | None = None,
        params: dict[str, AV] | None = None,
        depth: int = 0,
    ) -> Frame:
        frame = Frame(self.ctx, func, route=route, depth=depth, cls=cls)
        self._bind_params(func, frame, params or {})
        self.block(func.body, frame)
        return frame

    def _bind_params(self, func: FunctionNode, frame: Frame, given: dict[str, AV]) -> None:
        args = func.args
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        defaults += list(args.defaults)
        pairs = list(zip(positional, defaults, strict=True))
        pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
        for arg, default in pairs:
            value = given.get(arg.arg)
            if value is None:
                value = UNKNOWN
                if isinstance(default, ast.Constant):
                    value = value.join(self._constant(default, frame))
            frame.env[arg.arg] = value
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                frame.env[extra.arg] = given.get(extra.arg, UNKNOWN)
        frame.tainted = any(v.taints for v in frame.env.values())

    # Statements --------------------------------------------------------------------------

    def block(self, body: list[ast.stmt], frame: Frame) -> bool:
        """Interpret ``body``; True when it always leaves the block (return/raise/...)."""
        return any(self.stmt(stmt, frame) for stmt in body)

    def stmt(self, node: ast.stmt, frame: Frame) -> bool:
        kind = type(node)
        if kind is ast.Expr:
            self._expr_stmt(node, frame)  # type: ignore[arg-type]
            return self._aborts(node)  # type: ignore[arg-type]
        if kind is ast.Assign:
            self._assign(node, frame)  # type: ignore[arg-type]
        elif kind is ast.If:
            return self._if(node, frame)  # type: ignore[arg-type]
        elif kind is ast.Return:
            value = node.value  # type: ignore[attr-defined]
            frame.returns.append((node, self.ev(value, frame) if value is not None else UNKNOWN))
            return True
        elif kind is ast.AnnAssign or kind is ast.AugAssign:
            self._aug_assign(node, frame)  # type: ignore[arg-type]
        elif kind is ast.For or kind is ast.AsyncFor:
            self._for(node, frame)  # type: ignore[arg-type]
        elif kind is ast.While:
            self.ev(node.test, frame)  # type: ignore[attr-defined]
            self._branches(frame, [node.body, node.orelse])  # type: ignore[attr-defined]
        elif kind is ast.With or kind is ast.AsyncWith:
            return self._with(node, frame)  # type: ignore[arg-type]
        elif kind is ast.Try or kind is ast.TryStar:
            self._try(node, frame)  # type: ignore[arg-type]
        elif kind is ast.Raise:
            if node.exc is not None:  # type: ignore[attr-defined]
                self.ev(node.exc, frame)  # type: ignore[attr-defined]
            return True
        elif kind is ast.Assert:
            self.ev(node.test, frame)  # type: ignore[attr-defined]
            if self._validation_test(node.test, frame):  # type: ignore[attr-defined]
                frame.clear_taint(_CLEAN)
        elif kind is ast.ClassDef:
            self._classdef(node, frame)  # type: ignore[arg-type]
        elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            frame.env[node.name] = AV(frozenset((Ref(f"local:{node.name}"),)), False)  # type: ignore[attr-defined]
        elif kind is ast.Match:
            self.ev(node.subject, frame)  # type: ignore[attr-defined]
            self._branches(frame, [case.body for case in node.cases])  # type: ignore[attr-defined]
        elif kind is ast.Delete:
            for target in node.targets:  # type: ignore[attr-defined]
                if isinstance(target, ast.Name):
                    frame.env.pop(target.id, None)
        return kind is ast.Continue or kind is ast.Break

    def _aborts(self, node: ast.Expr) -> bool:
        call = node.value
        if not isinstance(call, ast.Call):
            return False
        name = dotted(call.func).rpartition(".")[2]
        return name in _ABORTS

    def _expr_stmt(self, node: ast.Expr, frame: Frame) -> None:
        self.ev(node.value, frame)
        call = node.value
        if isinstance(call, ast.Await):
            call = call.value
        if isinstance(call, ast.Call):
            text = dotted(call.func)
            if (
                text
                and flow.is_validator((text,))
                and any(self._taints_in(a, frame) & _CLEAN for a in call.args)
            ):
                frame.clear_taint(_CLEAN)

    def _assign(self, node: ast.Assign, frame: Frame) -> None:
        value = self.ev(node.value, frame)
        for target in node.targets:
            self.bind(target, value, frame)

    def _aug_assign(self, node: ast.AnnAssign | ast.AugAssign, frame: Frame) -> None:
        if node.value is None:
            return
        value = self.ev(node.value, frame)
        target = node.target
        if isinstance(node, ast.AugAssign) and isinstance(target, ast.Name):
            old = frame.lookup(target.id) or UNKNOWN
            value = AV(frozenset(), True, old.taints | value.taints)
        self.bind(target, value, frame)

    def _if(self, node: ast.If, frame: Frame) -> bool:
        self.ev(node.test, frame)
        before = frame.env
        checks = self._validation_test(node.test, frame)
        frame.env = dict(before)
        if checks:
            frame.clear_taint(_CLEAN)  # the branch runs only on input that passed the check
        body_exits = self.block(node.body, frame)
        body_env = frame.env
        frame.env = dict(before)
        if checks and body_exits:
            frame.clear_taint(_CLEAN)  # a rejecting branch validates what follows it
        else_exits = self.block(node.orelse, frame)
        if body_exits and else_exits:
            return True
        if body_exits:
            return False
        frame.env = body_env if else_exits else _join_env(body_env, frame.env)
        return False

    def _validation_test(self, test: ast.expr, frame: Frame) -> bool:
        """Whether ``test`` checks tainted input (a bounds comparison or a validator call)."""
        if not (frame.tainted or self.ctx.module_tainted):
            return False
        has_check = False
        tainted = False
        for sub in ast.walk(test):
            if isinstance(sub, ast.Compare) and any(isinstance(op, _ORDERING) for op in sub.ops):
                has_check = True
            elif isinstance(sub, ast.Call):
                text = dotted(sub.func)
                if text in ("len", "isinstance") or (text and flow.is_validator((text,))):
                    has_check = True
            elif isinstance(sub, ast.Name) and not tainted:
                value = frame.lookup(sub.id)
                tainted = value is not None and bool(value.taints & _CLEAN)
        return has_check and tainted

    def _branches(self, frame: Frame, bodies: list[list[ast.stmt]]) -> None:
        before = frame.env
        results = [before]
        for body in bodies:
            frame.env = dict(before)
            self.block(body, frame)
            results.append(frame.env)
        merged = results[0]
        for env in results[1:]:
            merged = _join_env(merged, env)
        frame.env = merged

    def _for(self, node: ast.For | ast.AsyncFor, frame: Frame) -> None:
        iterable = self.ev(node.iter, frame)
        for rule in self.rules.on_for:
            rule(node, iterable, frame)
        element = iterable.opaque()
        before = frame.env
        frame.env = dict(before)
        self.bind(node.target, element, frame)
        self.block(node.body, frame)
        body_env = frame.env
        frame.env = _join_env(before, body_env)
        if node.orelse:
            self.block(node.orelse, frame)

    def _with(self, node: ast.With | ast.AsyncWith, frame: Frame) -> bool:
        for item in node.items:
            value = self.ev(item.context_expr, frame)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, value, frame)
        return self.block(node.body, frame)

    def _try(self, node: ast.Try | ast.TryStar, frame: Frame) -> None:
        before = frame.env
        frame.env = dict(before)
        body_exits = self.block(node.body, frame)
        if not body_exits:
            self.block(node.orelse, frame)
        envs = [] if body_exits else [frame.env]
        for handler in node.handlers:
            frame.env = _join_env(before, frame.env) if envs else dict(before)
            if handler.name:
                frame.env[handler.name] = UNKNOWN
            if not self.block(handler.body, frame):
                envs.append(frame.env)
        frame.env = envs[0] if envs else dict(before)
        for env in envs[1:]:
            frame.env = _join_env(frame.env, env)
        self.block(node.finalbody, frame)

    def _classdef(self, node: ast.ClassDef, frame: Frame) -> None:
        for deco in node.decorator_list:
            self.ev(deco, frame)
        inner = Frame(self.ctx, None, cls=node.name)
        inner.globals = frame.env if frame.func is None else frame.globals
        for stmt in node.body:
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.stmt(stmt, inner)
        frame.env[node.name] = AV(frozenset((Ref(f"local:{node.name}"),)), False)

    # Calls -------------------------------------------------------------------------------

    def _call(self, node: ast.Call, frame: Frame) -> AV:
        func = node.func
        callee = self.ev(func, frame)
        receiver = callee if isinstance(func, ast.Attribute) else None
        args = [self.ev(arg, frame) for arg in node.args]
        kwargs: dict[str, AV] = {}
        star = False
        for kw in node.keywords:
            value = self.ev(kw.value, frame)
            if kw.arg is not None:
                kwargs[kw.arg] = value
                continue
            expanded = expand_kwargs(value)
            if expanded is None:
                star = True
                kwargs["**"] = value  # keeps the taints of an opaque **mapping
            else:
                kwargs.update(expanded)
        text = dotted(func)
        names = _callee_names(callee, text)
        call = Call(node, names, args, kwargs, star, receiver, frame, text)
        self._dispatch(call, frame)
        local = self._local_target(names, frame)
        if local is not None:
            summary = self._summarise(local, call, frame)
            if summary is not None:
                return summary
        result = flow.call_result(call)
        if _validates(call):
            frame.clear_taint(_CLEAN)  # the function validates its input (schema, bounds)
        return result

    def _dispatch(self, call: Call, frame: Frame) -> None:
        rules = self.rules
        seen: set[int] = set()
        for name in call.names:
            for rule in rules.by_terminal.get(name.rpartition(".")[2], ()):
                if id(rule) not in seen:
                    seen.add(id(rule))
                    rule(call)
        for keyword in call.kwargs:
            for rule in rules.by_keyword.get(keyword, ()):
                if id(rule) not in seen:
                    seen.add(id(rule))
                    rule(call)
        if not frame.guarded and flow.is_guard(call.names):
            frame.guarded = True
        if frame.route is not None:
            if flow.is_prediction(call):
                frame.events.add("predict")
                for rule in rules.on_predict:
                    rule(call)
            if flow.is_monitor(call.names):
                frame.events.add("monitor")
            if any(is_limit_text(n) for n in call.names):
                frame.events.add("rate-limit")  # a limiter called in the handler or a helper

    def _local_target(self, names: tuple[str, ...], frame: Frame) -> FunctionNode | None:
        for name in names:
            if name.startswith("local:"):
                return self.ctx.functions.get(name[6:])
            if name.startswith("self.") and frame.cls is not None and name.count(".") == 1:
                return self.ctx.methods.get((frame.cls, name[5:]))
        return None

    def _summarise(self, func: FunctionNode, call: Call, frame: Frame) -> AV | None:
        """Follow a call into a function of this file when it matters (taints, routes)."""
        if not frame.guarded and self._has_guard(func):
            frame.guarded = True
        tainted = any(a.taints for a in call.args) or any(v.taints for v in call.kwargs.values())
        if frame.depth >= _MAX_DEPTH or not (tainted or frame.route is not None):
            return None
        params = _map_params(func, call, is_method=call.names[0].startswith("self."))
        key = (id(func), tuple(params[k].taints for k in sorted(params)))
        done = self.ctx.summaries.get(key)
        if done is None:
            self.ctx.summaries[key] = Frame(self.ctx, func)  # recursion guard
            done = self.run_function(
                func, cls=frame.cls, route=frame.route, params=params, depth=frame.depth + 1
            )
            self.ctx.summaries[key] = done
            self.ctx.finish(done)
        frame.events |= done.events
        frame.guarded = frame.guarded or done.guarded
        if not done.returns:
            return UNKNOWN
        result = join_all([value for _, value in done.returns])
        if PROBA in result.taints and frame.route is not None:
            frame.events.add("proba-helper")
        return result

    def _has_guard(self, func: FunctionNode) -> bool:
        cached = self._guard_functions.get(func.name)
        if cached is None:
            # Most helpers hash nothing: a text search over their lines settles it cheaply.
            lines = self.ctx.lines[func.lineno - 1 : func.end_lineno or func.lineno]
            cached = _GUARD_TEXT.search("\n".join(lines)) is not None and any(
                (isinstance(n, ast.Compare) and any(is_digest(o) for o in [n.left, *n.comparators]))
                or (isinstance(n, ast.Call) and flow.is_guard((dotted(n.func),)))
                for n in ast.walk(func)
            )
            self._guard_functions[func.name] = cached
        return cached

    def _taints_in(self, node: ast.expr, frame: Frame) -> frozenset[str]:
        taints = _EMPTY
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                value = frame.lookup(sub.id)
                if value is not None:
                    taints = taints | value.taints
        return taints


def _validates(call: Call) -> bool:
    tainted = any(a.taints & _CLEAN for a in call.args) or any(
        v.taints & _CLEAN for v in call.kwargs.values()
    )
    return tainted and flow.is_validator(call.names)


def _join_env(a: dict[str, AV], b: dict[str, AV]) -> dict[str, AV]:
    if a is b:
        return a
    out = dict(a)
    for name, value in b.items():
        old = out.get(name)
        out[name] = value if old is None or old is value else old.join(value)
    for name, value in a.items():
        if name not in b:
            out[name] = value.join(UNKNOWN)
    return out


def _callee_names(callee: AV, text: str) -> tuple[str, ...]:
    names: list[str] = []
    for atom in callee.atoms:
        if isinstance(atom, Ref):
            names.append(canonical(atom.name))
        elif isinstance(atom, Inst):
            names.append(canonical(atom.name) + "()")
    if text and text not in names:
        names.append(text)
    return tuple(names) if names else ("?",)


def _map_params(func: FunctionNode, call: Call, *, is_method: bool) -> dict[str, AV]:
    positional = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    if is_method and positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    params: dict[str, AV] = dict.fromkeys(positional, UNKNOWN)
    params.update(zip(positional, call.args, strict=False))
    params.update(call.kwargs)
    return params
