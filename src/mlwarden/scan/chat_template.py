"""Finds Jinja server-side template injection in chat templates (CVE-2024-34359 family).

A chat template is rendered by the serving runtime; outside a sandbox, a template that walks
``__class__``/``__globals__`` reaches ``os`` and runs commands. The template is parsed with
jinja2 (parse only: nothing is compiled or rendered) and its expressions are checked for
attribute access to Python internals, directly or through names built from constant pieces
(``'__cla' ~ 'ss__'``, ``'_'*2``, ``|join``, ``|format('%c')``, ``|reverse``). When jinja2 is
missing, or the template does not parse, a lexical pass over the ``{{ }}``/``{% %}`` blocks
stands in. Benign templates (namespace, raise_exception, tojson, string methods) stay clean.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlwarden.findings import Confidence
from mlwarden.scan.template_eval import ConstEvaluator

if TYPE_CHECKING:
    import jinja2
    from jinja2 import nodes
    from jinja2.parser import Parser

#: Parsing is linear but jinja2's parser is slow; real chat templates are a few KiB.
MAX_PARSE_CHARS = 1024 * 1024
_MAX_ISSUES = 10

DUNDER = re.compile(r"__\w+__")
#: Objects that a default Jinja (or Flask) environment exposes and SSTI payloads start from.
GADGET_NAMES = frozenset(
    [
        "cycler",
        "joiner",
        "lipsum",
        "namespace",
        "self",
        "config",
        "request",
        "url_for",
        "get_flashed_messages",
    ]
)
#: Interpreter internals reachable without underscores: flagged wherever they are accessed.
INTERNAL_ATTRS = frozenset(
    [
        "mro",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "ag_frame",
        "tb_frame",
        "tb_next",
        "func_globals",
        "func_code",
        "co_code",
        "im_func",
        "im_class",
    ]
)
#: Methods that run commands or code: flagged when called (``ns.system`` alone is a field).
CALL_ATTRS = frozenset(
    [
        "popen",
        "system",
        "check_output",
        "check_call",
        "getoutput",
        "getstatusoutput",
        "spawnl",
        "spawnlp",
        "spawnv",
        "spawnvp",
        "spawnve",
        "execv",
        "execve",
        "execl",
        "execlp",
        "import_module",
        "load_module",
        "eval",
        "exec",
    ]
)
#: Calls by bare name that have no business in a chat template.
DANGEROUS_FUNCS = frozenset(
    [
        "eval",
        "exec",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "open",
        "compile",
        "breakpoint",
        "exit",
        "quit",
        "input",
    ]
)
#: Filters that look an attribute up by a (dotted) name given as an argument.
_ATTRIBUTE_ARG = {"selectattr": 0, "rejectattr": 0, "groupby": 0, "sum": 0}
_ATTRIBUTE_KWARG = frozenset(
    {"map", "selectattr", "rejectattr", "groupby", "sort", "unique", "min", "max", "sum"}
)
_GENERATOR_FILTERS = frozenset(
    {"select", "reject", "selectattr", "rejectattr", "map", "batch", "slice", "groupby", "dictsort"}
)


@dataclass(frozen=True)
class TemplateIssue:
    """One problem in a template: ``kind`` is ``"injection"`` or ``"unparsable"``."""

    kind: str
    message: str
    evidence: str
    confidence: Confidence = Confidence.HIGH


def dangerous_name(name: str) -> bool:
    """True for attribute names that lead to Python internals (any dotted segment)."""
    return any(part.startswith("_") or part in INTERNAL_ATTRS for part in name.split("."))


def analyse_template(source: str, *, use_jinja: bool = True) -> list[TemplateIssue]:
    """Return the injection issues in a Jinja template (empty for a benign template).

    Args:
        source: the template text (untrusted).
        use_jinja: parse with jinja2 when it is installed; ``False`` forces the lexical pass.
    """
    if not use_jinja or _jinja_env() is None:
        return lexical_issues(source)
    if len(source) > MAX_PARSE_CHARS:
        limit = f"template of {len(source)} characters is over the {MAX_PARSE_CHARS} parse limit"
        return [TemplateIssue("unparsable", limit, limit), *lexical_issues(source)]
    try:
        template = _parse(source)
    except Exception as exc:  # jinja2 raises many types on hostile input; all mean "unparsable"
        reason = f"{type(exc).__name__}: {exc}"[:200]
        issue = TemplateIssue("unparsable", f"template does not parse as Jinja ({reason})", reason)
        return [issue, *lexical_issues(source)]
    try:
        return _dedupe(_AstChecker(template).issues())
    except RecursionError:
        reason = "expressions nested too deeply to analyse"
        return [TemplateIssue("unparsable", f"template {reason}", reason), *lexical_issues(source)]


def _dedupe(issues: list[TemplateIssue]) -> list[TemplateIssue]:
    unique = list({issue.evidence: issue for issue in issues}.values())
    return unique[:_MAX_ISSUES]


_OPEN = re.compile(r"\{\{|\{%")
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", re.S)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|N\{[^}]*\})")
_NAMES_CALLED = "|".join(sorted(CALL_ATTRS | DANGEROUS_FUNCS))
#: Checked on the expression with its string literals blanked out.
_CODE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.\s*_"), "accesses an underscore attribute"),
    (DUNDER, "names a dunder attribute"),
    (re.compile(r"\|\s*attr\b"), "uses the attr filter"),
    (re.compile(r"\b(?:" + "|".join(sorted(GADGET_NAMES)) + r")\s*[.\[]"), "uses an SSTI gadget"),
    (re.compile(r"\b(?:" + _NAMES_CALLED + r")\s*\("), "calls a code-execution function"),
    (re.compile(r"\|\s*(?:string|list)\s*\)\s*\["), "picks characters out of an object's text"),
)
#: Checked on the raw expression, string literals included.
_RAW_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\[\s*['\"]_"), "subscripts an underscore attribute"),
    (
        re.compile(r"(?:attribute\s*=|(?:select|reject)attr\s*\(|groupby\s*\(|sum\s*\()\s*['\"]_"),
        "looks up an underscore attribute by name",
    ),
    (re.compile(r"\\(?:x5f|u005f|U0000005f|137|N\{LOW LINE\})", re.I), "escapes an underscore"),
    (re.compile(r"['\"]_+['\"]\s*\*|\*\s*['\"]_+['\"]"), "multiplies underscores"),
    (re.compile(r"%c"), "builds characters with %c"),
    (re.compile(r"(['\"])__\w+__\1"), "spells a dunder name as a string"),
    (re.compile(r"\{\w*(?:\.|\[)\s*['\"]?_"), "uses str.format fields that reach attributes"),
)


def _blocks(source: str) -> list[str]:
    """The text inside ``{{ }}`` and ``{% %}``, found in one linear pass."""
    out: list[str] = []
    pos = 0
    while (match := _OPEN.search(source, pos)) is not None:
        close = "}}" if match.group() == "{{" else "%}"
        end = source.find(close, match.end())
        if end < 0:
            out.append(source[match.end() :])
            break
        out.append(source[match.end() : end])
        pos = end + 2
    return out


def _decode_escape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "xuU":
        return chr(int(code[1:], 16))
    if code[0] == "N":
        return "_" if code[2:-1].strip().upper() == "LOW LINE" else ""
    return chr(int(code, 8))


def lexical_issues(source: str) -> list[TemplateIssue]:
    """Pattern checks over the expression blocks only (never the literal text around them)."""
    issues: list[TemplateIssue] = []
    for block in _blocks(source):
        code = _STRING.sub("''", block)
        hits = [(p.search(code), what) for p, what in _CODE_PATTERNS]
        hits += [(p.search(block), what) for p, what in _RAW_PATTERNS]
        for hit, what in hits:
            if hit is not None:
                snippet = hit.string[max(0, hit.start() - 30) : hit.end() + 30].strip()
                issues.append(_lexical(f"template {what}", snippet))
        literals = [_ESCAPE.sub(_decode_escape, a or b) for a, b in _STRING.findall(block)]
        built = DUNDER.search("".join(literals))
        if built and not any(built.group() in literal for literal in literals):
            issues.append(_lexical("string pieces join into a dunder name", built.group()))
    return _dedupe(issues)


def _lexical(message: str, evidence: str) -> TemplateIssue:
    return TemplateIssue("injection", message, evidence, Confidence.MEDIUM)


@functools.lru_cache(maxsize=1)
def _jinja_env() -> jinja2.Environment | None:
    try:
        import jinja2
        from jinja2.ext import Extension
    except ImportError:
        return None

    class _GenerationTag(Extension):
        """Hugging Face's ``{% generation %}`` block: parsed as its plain body."""

        tags = {"generation"}  # noqa: RUF012 - jinja2's Extension API declares it this way

        def parse(self, parser: Parser) -> list[nodes.Node]:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    # autoescape only matters when compiling; this environment only ever parses.
    extensions: list[str | type[Extension]] = [
        "jinja2.ext.loopcontrols",
        "jinja2.ext.do",
        _GenerationTag,
    ]
    return jinja2.Environment(autoescape=True, extensions=extensions)


def _parse(source: str) -> nodes.Template:
    env = _jinja_env()
    if env is None:
        raise ImportError("jinja2")
    return env.parse(source)


def _where(node: nodes.Node, what: str) -> str:
    return f"line {node.lineno}: {what}"


class _AstChecker:
    """Walks a parsed template once and reports every route to Python internals."""

    def __init__(self, template: nodes.Template) -> None:
        from jinja2 import nodes

        self._nodes = nodes
        self._template = template
        self._symbols = _symbols(template)
        self._literals = {
            c.value for c in template.find_all(nodes.Const) if isinstance(c.value, str)
        }
        self._eval = ConstEvaluator(self._symbols)
        self._found: list[TemplateIssue] = []

    def issues(self) -> list[TemplateIssue]:
        n = self._nodes
        checks: dict[type[nodes.Node], Callable[[Any], None]] = {
            n.Getattr: self._getattr,
            n.Getitem: self._getitem,
            n.Filter: self._filter,
            n.Call: self._call,
        }
        for node in self._template.find_all(n.Expr):
            check = checks.get(type(node))
            if check is not None:
                check(node)
            if type(node).__name__ in _BUILDERS:
                self._built(node)
        return self._found

    def _add(self, node: nodes.Node, what: str) -> None:
        self._found.append(TemplateIssue("injection", f"template {what}", _where(node, what)))

    def _gadget(self, node: nodes.Node) -> str | None:
        if isinstance(node, self._nodes.Name) and node.name in GADGET_NAMES:
            return None if node.name in self._symbols else node.name
        return None

    def _getattr(self, node: nodes.Getattr) -> None:
        if dangerous_name(node.attr):
            self._add(node, f"accesses attribute {node.attr!r}")
        elif (gadget := self._gadget(node.node)) is not None:
            self._add(node, f"uses the SSTI gadget {gadget}.{node.attr}")

    def _getitem(self, node: nodes.Getitem) -> None:
        keys = self._eval.values(node.arg) or []
        bad = [k for k in keys if isinstance(k, str) and dangerous_name(k)]
        if bad:
            self._add(node, f"subscripts attribute {bad[0]!r}")
        elif (gadget := self._gadget(node.node)) is not None:
            self._add(node, f"subscripts the SSTI gadget {gadget}")
        elif self._picks_characters(node.node):
            self._add(node, "picks characters out of an object's text to build names")

    def _picks_characters(self, start: nodes.Node) -> bool:
        node: nodes.Node | None = start
        peeled = False
        while isinstance(node, self._nodes.Filter) and node.name in ("string", "list"):
            node, peeled = node.node, True
        if not peeled or node is None:
            return False
        if isinstance(node, self._nodes.Filter):
            return node.name in _GENERATOR_FILTERS
        literal = isinstance(node, (self._nodes.Tuple, self._nodes.List, self._nodes.Dict))
        return literal or self._gadget(node) is not None

    def _filter(self, node: nodes.Filter) -> None:
        if node.name == "attr" and node.args:
            self._attribute_argument(node, node.args[0], "attr")
        if node.name in _ATTRIBUTE_ARG and len(node.args) > _ATTRIBUTE_ARG[node.name]:
            self._attribute_argument(node, node.args[_ATTRIBUTE_ARG[node.name]], node.name)
        if node.name in _ATTRIBUTE_KWARG:
            for kw in node.kwargs:
                if kw.key == "attribute":
                    self._attribute_argument(node, kw.value, f"{node.name}(attribute=...)")

    def _attribute_argument(self, node: nodes.Filter, arg: nodes.Expr, what: str) -> None:
        names = self._eval.values(arg)
        if names is None:
            self._add(node, f"looks up an attribute whose name is computed (|{what})")
            return
        bad = [k for k in names if not isinstance(k, str) or dangerous_name(k) or k in CALL_ATTRS]
        if bad:
            self._add(node, f"looks up attribute {bad[0]!r} with |{what}")

    def _call(self, node: nodes.Call) -> None:
        func = node.node
        name = getattr(func, "name", None) if isinstance(func, self._nodes.Name) else None
        if name in DANGEROUS_FUNCS and name not in self._symbols:
            self._add(node, f"calls {name}()")
        if isinstance(func, self._nodes.Getattr) and func.attr in CALL_ATTRS:
            self._add(node, f"calls .{func.attr}()")
        if isinstance(func, self._nodes.Getitem):
            keys = self._eval.values(func.arg) or []
            if any(k in CALL_ATTRS for k in keys if isinstance(k, str)):
                self._add(node, "calls a code-execution method looked up by subscript")
        if isinstance(func, self._nodes.Getattr) and func.attr in ("format", "format_map"):
            formats = self._eval.values(func.node) or []
            if any(isinstance(f, str) and _FORMAT_FIELD.search(f) for f in formats):
                self._add(node, "uses str.format fields that reach attributes")
        for kw in node.kwargs:
            if DUNDER.search(kw.key):
                self._add(node, f"passes the keyword {kw.key!r}")

    def _built(self, node: nodes.Expr) -> None:
        for value in self._eval.values(node) or []:
            text = "".join(map(str, value)) if isinstance(value, list) else str(value)
            hit = DUNDER.search(text)
            # A name written out in one literal is not hidden; the sinks above judge its use.
            if hit and not any(hit.group() in literal for literal in self._literals):
                self._add(node, f"builds the name {hit.group()!r} from pieces")
                return


_BUILDERS = frozenset({"Concat", "Add", "Mul", "Mod", "Filter", "Call", "Getitem", "List", "Tuple"})
_FORMAT_FIELD = re.compile(r"\{[^{}]*(?:\.\s*_|\[\s*['\"]?_)[^{}]*\}")


def _symbols(template: nodes.Template) -> dict[str, list[nodes.Node | None]]:
    """Every name the template assigns, with what it assigns (``None``: unknown)."""
    from jinja2 import nodes

    table: dict[str, list[nodes.Node | None]] = {}
    for node in template.find_all(
        (nodes.Assign, nodes.AssignBlock, nodes.For, nodes.Macro, nodes.With, nodes.CallBlock)
    ):
        for key, value in _assignments(node):
            table.setdefault(key, []).append(value)
    return table


def _assignments(node: nodes.Node) -> Iterator[tuple[str, nodes.Node | None]]:
    from jinja2 import nodes

    if isinstance(node, nodes.Assign):
        yield from _targets(node.target, node.node)
    elif isinstance(node, (nodes.AssignBlock, nodes.For)):
        yield from _targets(node.target, None)
    elif isinstance(node, nodes.With):
        for target, value in zip(node.targets, node.values, strict=False):
            yield from _targets(target, value)
    elif isinstance(node, (nodes.Macro, nodes.CallBlock)):
        if isinstance(node, nodes.Macro):
            yield node.name, None
        for arg in node.args:
            yield arg.name, None


def _targets(
    target: nodes.Node, value: nodes.Node | None
) -> Iterator[tuple[str, nodes.Node | None]]:
    from jinja2 import nodes

    if isinstance(target, nodes.Name):
        yield target.name, value
        if isinstance(value, nodes.Call) and getattr(value.node, "name", "") == "namespace":
            for kw in value.kwargs:
                yield f"{target.name}.{kw.key}", kw.value
    elif isinstance(target, nodes.NSRef):
        yield f"{target.name}.{target.attr}", value
    elif isinstance(target, nodes.Tuple):
        for item in target.items:
            yield from _targets(item, None)
