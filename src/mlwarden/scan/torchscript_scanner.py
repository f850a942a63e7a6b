"""TorchScript code scanner: the ``code/`` Python members of a TorchScript zip archive.

``torch.jit.save`` writes each scripted class as Python-like source under
``<archive>/code/__torch__/...``; ``torch.jit.load`` compiles and runs it. The printer only
emits a narrow dialect (``torch.*`` calls, ``ops.aten``/``ops.prim``, ``getattr(self, "0")``),
so custom native ops and Python internals in these files are suspicious. The source is parsed
with :func:`ast.parse`, never executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from mlwarden.errors import ScanLimitExceeded
from mlwarden.findings import Confidence, Finding, ItemError, Location
from mlwarden.scan.base import Artifact, ScanContext, finding


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Operator namespaces that ship with PyTorch (and its first-party domain libraries).
_KNOWN_OP_NAMESPACES = _words(
    """
    aten prim quantized _quantized quantized_decomposed prepacked _caffe2 xnnpack mkldnn
    mkldnn_prepacked onednn _nnapi profiler cuda sparse c10d _c10d_functional
    c10d_functional _dtensor torchvision torchaudio torchtext fbgemm
    """
)
#: Custom-class (``torch.classes.<ns>``) namespaces that ship with PyTorch.
_KNOWN_CLASS_NAMESPACES = _words(
    "quantized xnnpack _nnapi mkldnn onednn sparse c10d dist_c10d dist_rpc"
)
#: Builtins the TorchScript printer never emits; reaching them means hand-written code.
_SUSPICIOUS_NAMES = _words(
    """
    __import__ __builtins__ eval exec compile open globals locals vars breakpoint input
    exit quit setattr delattr memoryview
    """
)
#: Python modules that never appear in printed TorchScript.
_SUSPICIOUS_MODULES = _words(
    """
    os posix nt subprocess sys builtins importlib runpy pickle marshal shutil socket pty
    webbrowser ctypes shelve tempfile pathlib io urllib http requests
    """
)
#: Dunder attributes used to escape sandboxes; TorchScript never prints them.
_ESCAPE_ATTRS = _words(
    """
    __class__ __globals__ __subclasses__ __builtins__ __mro__ __bases__ __base__ __code__
    __dict__ __getattribute__ __func__ __self__ __closure__ __reduce__ __reduce_ex__
    __loader__ __spec__ __import__
    """
)
#: Text fallback for files that do not parse: the tokens that matter most.
_TEXT_PATTERNS = re.compile(
    r"__import__|\b(?:eval|exec|compile)\s*\(|"
    r"\b(?:os|subprocess)\.(?:system|popen|spawn\w*|exec\w*|run|call|check_output|Popen)\b|"
    r"\bops\.(?!(?:aten|prim|quantized|_quantized|prepacked)\.)\w+\."
)


class TorchScriptCodeScanner:
    """The Python code members of TorchScript archives (``<top>/code/**.py``)."""

    id = "torchscript-code"
    formats = frozenset({"python-source"})

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Iterator[Finding]:
        """Yield findings for a TorchScript code member; plain ``.py`` files yield none."""
        if artifact.container != "zip" or "code/" not in artifact.name.replace("\\", "/"):
            return
        source = _read_source(artifact, ctx)
        try:
            tree = ast.parse(source, filename=artifact.name)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            ctx.errors.append(ItemError(str(artifact.location), f"not parseable Python: {exc}"))
            yield from _text_findings(artifact, source)
            return
        ctx.count("torchscript:code-files")
        seen: set[tuple[str, int]] = set()
        where = artifact.location
        for line, message, evidence in _suspicious(tree, ctx):
            if (evidence, line) not in seen:
                seen.add((evidence, line))
                location = Location(where.path, where.member, line=line or None)
                yield finding("SCAN-TS-001", location, message, evidence=evidence)


def _read_source(artifact: Artifact, ctx: ScanContext) -> str:
    limit = ctx.limits.max_header_bytes
    with artifact.open() as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ScanLimitExceeded(f"TorchScript code member larger than {limit} bytes")
    return data.decode("utf-8", errors="replace")


def _text_findings(artifact: Artifact, source: str) -> Iterator[Finding]:
    """Code that does not parse is still searched for the most telling tokens."""
    match = _TEXT_PATTERNS.search(source)
    if match is not None:
        yield finding(
            "SCAN-TS-001",
            artifact.location,
            "unparseable TorchScript code contains a suspicious token",
            evidence=match.group(0),
            confidence=Confidence.MEDIUM,
        )


def _suspicious(tree: ast.AST, ctx: ScanContext) -> Iterator[tuple[int, str, str]]:
    bound = _bound_names(tree)
    for count, node in enumerate(ast.walk(tree)):
        if count % 4096 == 0:
            ctx.check_deadline()
        line = getattr(node, "lineno", 0)
        for message, evidence in _check_node(node, bound):
            yield line, message, evidence


def _bound_names(tree: ast.AST) -> frozenset[str]:
    """Names the file itself binds (locals, arguments): a variable named ``os`` is data."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return frozenset(names)


def _check_node(node: ast.AST, bound: frozenset[str]) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.Attribute):
        yield from _check_attribute(node, bound)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id in _SUSPICIOUS_NAMES and node.id not in bound:
            yield f"references the Python builtin {node.id!r}", node.id
    elif isinstance(node, ast.Call):
        yield from _check_getattr(node)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        shown = ", ".join(m or "." for m in modules)
        yield f"imports {shown} (TorchScript code has no import statements)", f"import {shown}"


def _check_attribute(node: ast.Attribute, bound: frozenset[str]) -> Iterator[tuple[str, str]]:
    if node.attr in _ESCAPE_ATTRS:
        yield f"accesses the Python internal attribute {node.attr!r}", node.attr
    chain = _dotted(node)
    if chain is None:
        return
    parts = chain.split(".")
    if len(parts) == 2 and parts[0] in _SUSPICIOUS_MODULES and parts[0] not in bound:
        yield f"uses the Python module {parts[0]!r} ({chain})", chain
    namespace = _namespace_after(parts, "ops")
    if namespace is not None and namespace not in _KNOWN_OP_NAMESPACES:
        yield f"calls the custom native operator namespace {namespace!r} ({chain})", chain
    namespace = _namespace_after(parts, "classes")
    if namespace is not None and namespace not in _KNOWN_CLASS_NAMESPACES:
        yield f"uses the custom native class namespace {namespace!r} ({chain})", chain


def _namespace_after(parts: list[str], key: str) -> str | None:
    """``ops.ns.op`` / ``torch.ops.ns.op`` (or ``torch.classes.ns.Cls``): return ``ns``."""
    for i, part in enumerate(parts[:-2]):
        if part == key and (i == 0 or parts[i - 1] == "torch") and (key == "ops" or i > 0):
            return parts[i + 1]
    return None


def _dotted(node: ast.Attribute) -> str | None:
    """``a.b.c`` for a pure attribute chain on a name; None for calls, subscripts, etc."""
    parts = [node.attr]
    value = node.value
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    parts.append(value.id)
    return ".".join(reversed(parts))


def _check_getattr(node: ast.Call) -> Iterator[tuple[str, str]]:
    """TorchScript prints ``getattr(self, "0")`` with a constant, non-dunder name only."""
    if not (isinstance(node.func, ast.Name) and node.func.id == "getattr"):
        return
    if len(node.args) < 2:
        return
    name = node.args[1]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        yield "calls getattr with a computed attribute name", "getattr(<computed>)"
    elif name.value.startswith("__"):
        yield f"calls getattr for the internal attribute {name.value!r}", name.value
