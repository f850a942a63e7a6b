"""Per-file and per-frame state shared by the interpreter and the rules.

:class:`FileContext` holds what is known about one module (imports, functions, classes,
module-wide facts such as an app-wide rate limiter) and collects raw findings.
:class:`Frame` is the state of one function (or module body) being interpreted: its variable
environment, whether a hash or signature check has been seen, the route it serves, and the
events it triggered (a prediction, a monitoring hook, ...). :class:`Call` is what a call rule
receives.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from mlwarden.findings import Confidence, Severity
from mlwarden.linter.imports import ImportMap
from mlwarden.linter.values import AV, UNKNOWN, DictV

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class RawFinding:
    """A finding before suppression, selection and location mapping."""

    rule_id: str
    line: int
    column: int
    end_line: int
    message: str
    confidence: Confidence
    severity: Severity | None = None
    scope: str = ""


@dataclass
class RouteInfo:
    """A function that serves requests: how it is exposed and what protects it."""

    kind: str  # "flask", "fastapi", "lambda", "gradio", "bentoml", ...
    node: FunctionNode
    rate_limited: bool = False
    monitored: bool = False


@dataclass
class ModuleFacts:
    """Module-wide facts collected before any function is interpreted."""

    rate_limited: bool = False
    monitored: bool = False
    #: function name -> framework, for routes registered by a call (``add_url_rule``).
    registered_routes: dict[str, str] = field(default_factory=dict)
    #: names of functions used as ``before_request`` / middleware hooks.
    hooks: set[str] = field(default_factory=set)


class FileContext:
    """Everything known about one module while it is linted."""

    def __init__(
        self, tree: ast.Module, lines: list[str], imports: ImportMap, *, is_test_file: bool = False
    ) -> None:
        self.tree = tree
        self.is_test_file = is_test_file
        self.lines = lines
        self.imports = imports
        self.functions: dict[str, FunctionNode] = {}
        self.methods: dict[tuple[str, str], FunctionNode] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        self.facts = ModuleFacts()
        self.module_env: dict[str, AV] = {}
        #: ``self.x = ...`` seen in any method, per (class, attribute): read by the others.
        self.self_attrs: dict[tuple[str, str], AV] = {}
        self.module_tainted = False
        self.findings: list[RawFinding] = []
        self.summaries: dict[tuple[int, tuple[frozenset[str], ...]], Frame] = {}
        #: events of the whole module (for module-level rules such as the gap check).
        self.events: set[str] = set()
        self.fit_calls: list[tuple[ast.Call, str, str]] = []
        #: local file names that a download call wrote (their content is remote).
        self.downloaded: set[str] = set()
        #: findings that a later check in the same function may still clear, with what
        #: clears them ("guard", "guard-or-gate" or an event name).
        self.pending: list[tuple[Frame, RawFinding, str]] = []
        self._bases: dict[str, set[str]] = {}

    def report(
        self,
        rule_id: str,
        node: ast.AST,
        message: str,
        confidence: Confidence = Confidence.HIGH,
        *,
        severity: Severity | None = None,
        scope: str = "",
    ) -> None:
        line = getattr(node, "lineno", 1)
        self.findings.append(
            RawFinding(
                rule_id,
                line,
                getattr(node, "col_offset", 0) + 1,
                getattr(node, "end_lineno", None) or line,
                message,
                confidence,
                severity,
                scope,
            )
        )

    def finish(self, frame: Frame) -> None:
        """Resolve the findings that waited for the end of ``frame`` (a later verification)."""
        keep: list[tuple[Frame, RawFinding, str]] = []
        for owner, found, needs in self.pending:
            if owner is not frame:
                keep.append((owner, found, needs))
            elif not _cleared(frame, needs):
                self.findings.append(found)
        self.pending = keep

    def class_bases(self, name: str) -> set[str]:
        """Qualified names of every base of local class ``name``, transitively."""
        cached = self._bases.get(name)
        if cached is not None:
            return cached
        self._bases[name] = set()  # guards against cyclic definitions
        out: set[str] = set()
        node = self.classes.get(name)
        if node is not None:
            for base in node.bases:
                for qual in self.dotted_names(base):
                    out.add(qual)
                    if qual.startswith("local:"):
                        out |= self.class_bases(qual[6:])
        self._bases[name] = out
        return out

    def dotted_names(self, node: ast.expr) -> list[str]:
        """Qualified names of a ``Name``/``Attribute`` chain through the imports."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return []
        tail = "".join("." + p for p in reversed(parts))
        bound = self.imports.resolve(node.id)
        if bound:
            return [b + tail for b in bound]
        if node.id in self.classes or node.id in self.functions:
            return [f"local:{node.id}{tail}"]
        return [node.id + tail]

    def source_line(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


def _cleared(frame: Frame, needs: str) -> bool:
    if needs == "guard":
        return frame.guarded
    if needs == "guard-or-gate":
        return frame.guarded or "metric-gate" in frame.events
    return needs in frame.events


class Frame:
    """The interpreter state of one function body (or the module body)."""

    __slots__ = (
        "cls",
        "ctx",
        "depth",
        "env",
        "events",
        "func",
        "globals",
        "guarded",
        "returns",
        "route",
        "scope",
        "tainted",
    )

    def __init__(
        self,
        ctx: FileContext,
        func: FunctionNode | None,
        *,
        route: RouteInfo | None = None,
        depth: int = 0,
        cls: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.func = func
        self.route = route
        self.depth = depth
        self.cls = cls
        self.env: dict[str, AV] = {}
        self.globals: dict[str, AV] | None = None if func is None else ctx.module_env
        self.guarded = False
        #: whether any variable of this frame ever held tainted data (a fast path).
        self.tainted = False
        self.returns: list[tuple[ast.AST, AV]] = []
        self.events: set[str] = set()
        self.scope = "" if func is None else (f"{cls}.{func.name}" if cls else func.name)

    def lookup(self, name: str) -> AV | None:
        found = self.env.get(name)
        if found is None and self.globals is not None:
            found = self.globals.get(name)
        return found

    def clear_taint(self, taints: frozenset[str]) -> None:
        """Forget ``taints`` on every variable: the function validated its input."""
        self.events.add("validated")
        for name, value in list(self.env.items()):
            if value.taints & taints:
                self.env[name] = value.untainted(taints)


@dataclass
class Call:
    """One call site as a rule sees it: names, argument values, and the frame it is in."""

    node: ast.Call
    names: tuple[str, ...]
    args: list[AV]
    kwargs: dict[str, AV]
    star_kwargs: bool
    receiver: AV | None
    frame: Frame
    #: the callee as written (``self.model.predict``), empty for computed callees.
    text: str = ""

    @property
    def ctx(self) -> FileContext:
        return self.frame.ctx

    def arg(self, keyword: str, position: int | None = None) -> AV | None:
        """The value passed as ``keyword`` (or at ``position``); ``None`` when absent.

        A ``**kwargs`` of unknown content makes an absent keyword unknown rather than absent.
        """
        value = self.kwargs.get(keyword)
        if value is not None:
            return value
        if position is not None and position < len(self.args):
            return self.args[position]
        return UNKNOWN if self.star_kwargs else None

    def has_keyword(self, keyword: str) -> bool:
        return keyword in self.kwargs

    def matches(self, *qualified: str) -> bool:
        return any(n in qualified for n in self.names)

    def matches_prefix(self, *prefixes: str) -> bool:
        return any(n.startswith(prefixes) for n in self.names)

    @property
    def terminal(self) -> str:
        """The callee's last name part (``load`` for ``torch.load``, ``f`` for ``local:f``)."""
        name = self.names[0] if self.names else ""
        return name.rpartition(".")[2].removeprefix("local:")

    def report(self, rule_id: str, message: str, confidence: Confidence = Confidence.HIGH) -> None:
        self.ctx.report(rule_id, self.node, message, confidence, scope=self.frame.scope)

    def report_unless(
        self, needs: str, rule_id: str, message: str, confidence: Confidence = Confidence.HIGH
    ) -> None:
        """Report unless the function, by its end, shows ``needs`` (e.g. ``"guard"``)."""
        before = len(self.ctx.findings)
        self.report(rule_id, message, confidence)
        found = self.ctx.findings.pop(before)
        self.ctx.pending.append((self.frame, found, needs))


def expand_kwargs(value: AV) -> dict[str, AV] | None:
    """The keywords a ``**value`` passes, when ``value`` is a known dict on every path."""
    if value.unknown or len(value.atoms) != 1:
        return None
    (atom,) = value.atoms
    return dict(atom.items) if isinstance(atom, DictV) else None
