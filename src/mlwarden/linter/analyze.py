"""Lints one parsed module: index it, interpret every function once, run the route rules.

Order matters and is fixed: the module body first (imports, constants, app-wide limiters),
then every function that is not a route (helpers, factories that register routes and
middleware), then every route with its parameters bound as request data, then the
module-wide rules. Findings are de-duplicated (a helper interpreted plainly and again on
behalf of a route reports once).
"""

from __future__ import annotations

import ast

from mlwarden.linter import flow, routes
from mlwarden.linter.checks.base import RuleSet
from mlwarden.linter.context import FileContext, FunctionNode, RawFinding
from mlwarden.linter.imports import ImportMap
from mlwarden.linter.interp import Interpreter
from mlwarden.linter.limits import is_limit_text
from mlwarden.linter.syntax import dotted
from mlwarden.linter.triggers import worth_interpreting

_HOOKS = frozenset(("before_request", "after_request", "before_app_request", "middleware"))


def analyze(
    tree: ast.Module, lines: list[str], rules: RuleSet, *, is_test_file: bool = False
) -> list[RawFinding]:
    """Every raw finding in ``tree`` (``lines`` is its source, for evidence)."""
    ctx = FileContext(tree, lines, ImportMap(), is_test_file=is_test_file)
    functions: list[tuple[FunctionNode, str | None]] = []
    _index(tree.body, ctx, None, functions, top=True)
    interp = Interpreter(ctx, rules)
    ctx.finish(interp.run_module())
    decorated = {id(f) for f, cls in functions if routes.route_kind(f, ctx, cls) is not None}
    worth = worth_interpreting(ctx, rules)
    for func, cls in functions:
        if id(func) not in decorated and worth(func, cls):
            ctx.finish(interp.run_function(func, cls=cls))
    _hooks(functions, ctx)
    for func, cls in functions:
        kind = routes.route_kind(func, ctx, cls)
        if kind is None:
            continue
        route = routes.new_route(func, ctx, kind)
        params = routes.route_params(func, ctx, kind)
        frame = interp.run_function(func, cls=cls, route=route, params=params)
        ctx.finish(frame)
        for route_rule in rules.on_route:
            route_rule(route, frame)
    for module_rule in rules.on_module:
        module_rule(ctx)
    found = _dedupe(ctx.findings)
    ctx.summaries.clear()  # frames refer back to the context: break the cycle
    ctx.pending.clear()
    return found


def _index(
    body: list[ast.stmt],
    ctx: FileContext,
    cls: str | None,
    out: list[tuple[FunctionNode, str | None]],
    *,
    top: bool,
) -> None:
    """Record imports, functions and classes, walking statements only (not expressions)."""
    for stmt in body:
        kind = type(stmt)
        if kind is ast.Import:
            ctx.imports.add_import(stmt)  # type: ignore[arg-type]
        elif kind is ast.ImportFrom:
            ctx.imports.add_import_from(stmt)  # type: ignore[arg-type]
        elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            func: FunctionNode = stmt  # type: ignore[assignment]
            out.append((func, cls))
            if cls is not None:
                ctx.methods[(cls, func.name)] = func
            elif top or func.name not in ctx.functions:
                ctx.functions[func.name] = func
            _index(func.body, ctx, None, out, top=False)
        elif kind is ast.ClassDef:
            node: ast.ClassDef = stmt  # type: ignore[assignment]
            ctx.classes.setdefault(node.name, node)
            _index(node.body, ctx, node.name, out, top=False)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                inner = getattr(stmt, field, None)
                if inner:
                    _index(inner, ctx, cls, out, top=top)


def _hooks(functions: list[tuple[FunctionNode, str | None]], ctx: FileContext) -> None:
    """``before_request`` hooks and middleware that limit or monitor cover every route."""
    for func, _ in functions:
        names = {
            dotted(d.func if isinstance(d, ast.Call) else d).rpartition(".")[2]
            for d in func.decorator_list
        }
        if not names & _HOOKS and func.name not in ctx.facts.hooks:
            continue
        for sub in ast.walk(func):
            if isinstance(sub, ast.Call):
                text = dotted(sub.func)
                if is_limit_text(text):
                    ctx.facts.rate_limited = True
                if flow.is_monitor((text,)):
                    ctx.facts.monitored = True


def _dedupe(findings: list[RawFinding]) -> list[RawFinding]:
    best: dict[tuple[str, int, int], RawFinding] = {}
    for found in findings:
        key = (found.rule_id, found.line, found.column)
        held = best.get(key)
        if held is None or _rank(found) > _rank(held):
            best[key] = found
    return sorted(best.values(), key=lambda f: (f.line, f.column, f.rule_id))


def _rank(found: RawFinding) -> int:
    return {"low": 0, "medium": 1, "high": 2}[found.confidence.value]
