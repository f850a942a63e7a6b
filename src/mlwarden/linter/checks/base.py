"""The shapes of lint rules and the registry that collects them.

A rule is a plain function registered for the events it cares about: a call whose callee
ends in one of some names (``load``, ``from_pretrained``), a call passing some keyword
(``trust_remote_code``), an attribute assignment (``p.requires_grad = False``), a ``for``
loop, a finished route handler, or a finished module. The interpreter looks rules up by
event in precomputed tables, so a file costs one pass whatever the number of rules.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mlwarden.linter.context import Call, FileContext, Frame, RouteInfo
from mlwarden.linter.values import AV

CallRule = Callable[[Call], None]
ForRule = Callable[[ast.For | ast.AsyncFor, AV, Frame], None]
AttrAssignRule = Callable[[ast.Attribute, AV, AV, Frame], None]
RouteRule = Callable[[RouteInfo, Frame], None]
ModuleRule = Callable[[FileContext], None]

F = TypeVar("F")


@dataclass
class RuleSet:
    """Rules indexed by the event that triggers them."""

    by_terminal: dict[str, list[CallRule]] = field(default_factory=dict)
    by_keyword: dict[str, list[CallRule]] = field(default_factory=dict)
    on_for: list[ForRule] = field(default_factory=list)
    on_attr_assign: dict[str, list[AttrAssignRule]] = field(default_factory=dict)
    on_route: list[RouteRule] = field(default_factory=list)
    on_predict: list[CallRule] = field(default_factory=list)
    on_module: list[ModuleRule] = field(default_factory=list)
    lazy_terminals: set[str] = field(default_factory=set)

    def calls(self, *terminals: str, lazy: bool = False) -> Callable[[CallRule], CallRule]:
        """Register a rule for calls whose callee's last name part is one of ``terminals``.

        ``lazy`` rules only matter on tainted data or in training scripts (``fit``,
        ``score``, ``requests.get``): their names alone do not make a function worth
        interpreting (see ``trigger_pattern``).
        """

        def register(fn: CallRule) -> CallRule:
            for name in terminals:
                self.by_terminal.setdefault(name, []).append(fn)
                if lazy:
                    self.lazy_terminals.add(name)
            return fn

        return register

    def trigger_words(self) -> frozenset[str]:
        """Names a function must mention for an eager rule to possibly fire in it."""
        eager = set(self.by_terminal) - self.lazy_terminals
        return frozenset(eager | set(self.by_keyword) | set(self.on_attr_assign))

    def keywords(self, *names: str) -> Callable[[CallRule], CallRule]:
        """Register a rule for calls that pass one of the keyword arguments ``names``."""

        def register(fn: CallRule) -> CallRule:
            for name in names:
                self.by_keyword.setdefault(name, []).append(fn)
            return fn

        return register

    def assigns(self, *attrs: str) -> Callable[[AttrAssignRule], AttrAssignRule]:
        """Register a rule for assignments to an attribute named one of ``attrs``."""

        def register(fn: AttrAssignRule) -> AttrAssignRule:
            for name in attrs:
                self.on_attr_assign.setdefault(name, []).append(fn)
            return fn

        return register

    def loops(self, fn: ForRule) -> ForRule:
        self.on_for.append(fn)
        return fn

    def predictions(self, fn: CallRule) -> CallRule:
        """Register a rule for model inference calls made while serving a route."""
        self.on_predict.append(fn)
        return fn

    def routes(self, fn: RouteRule) -> RouteRule:
        self.on_route.append(fn)
        return fn

    def modules(self, fn: ModuleRule) -> ModuleRule:
        self.on_module.append(fn)
        return fn


#: The one registry every rule module adds to (imported by ``mlwarden.linter.checks``).
REGISTRY = RuleSet()
