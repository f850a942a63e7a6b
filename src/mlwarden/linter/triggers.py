"""Which functions are worth interpreting: a fast scan for the names the rules look for.

Most functions of a library mention nothing any rule reacts to, and finding that out from the
text is far cheaper than interpreting them. A function is interpreted (outside routes, which
always are) when one of its lines names an eager rule's callee, keyword or attribute, a taint
source (a URL, an HTTP or cloud client, a hub download) or a local alias of a rule's callee.
Generic names count only where the module that gives them meaning is imported: ``load`` only
next to pickle/joblib/torch/yaml..., ``open`` only next to ``shelve``. Files whose module body
holds tainted values, and training scripts, are interpreted whole.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable

from mlwarden.linter.checks.base import RuleSet
from mlwarden.linter.context import FileContext, FunctionNode

_LOADERS = (
    "pickle",
    "dill",
    "cloudpickle",
    "marshal",
    "joblib",
    "torch",
    "yaml",
    "jsonpickle",
    "skops",
    "mlflow",
    "keras",
)
_NETS = ("torch", "transformers", "keras", "timm", "huggingface_hub", "sentence_transformers")
_CLIENTS = ("requests", "httpx", "urllib3", "aiohttp", "ssl", "urllib")
_WEB = ("fastapi", "starlette", "litestar", "flask", "flask_limiter", "slowapi")
#: generic names -> the modules that must be imported for them to matter.
_CONDITIONAL: dict[str, tuple[str, ...]] = {
    "load": _LOADERS,
    "loads": _LOADERS,
    "_load": _LOADERS,
    "_loads": _LOADERS,
    "load_all": ("yaml",),
    "open": ("shelve", "tarfile"),
    "decode": ("jsonpickle",),
    "pipeline": ("transformers",),
    "create_model": ("timm",),
    "YAML": ("ruamel",),
    "Interface": ("gradio",),
    "ChatInterface": ("gradio",),
    "click": ("gradio",),
    "submit": ("gradio",),
    "Route": _WEB,
    "dependencies": _WEB,
    "middleware": _WEB,
    "add_middleware": _WEB,
    "init_app": _WEB,
    "Limiter": _WEB,
    "freeze": _NETS,
    "parameters": _NETS,
    "layers": _NETS,
    "requires_grad": _NETS,
    "verify": _CLIENTS,
}
_ALWAYS = frozenset(("allow_pickle", "Unpickler", "parameters", "layers", "requires_grad"))
#: substrings (not whole words) that start taint.
_SOURCES = (
    "://",
    "requests",
    "urllib",
    "httpx",
    "aiohttp",
    "boto3",
    "kagglehub",
    "tritonclient",
    "load_dataset",
    "get_file",
    "download",
    "hf-hub",
    "models:/",
)
_EXPORTS = ("dump(", ".save(", "save_model(", "log_model(", "save_pretrained(", "push_to_hub(")
_SCRIPT_FUNCTION = ("main", "train", "run", "fit_model", "build_model", "experiment")
_CACHE: dict[int, frozenset[str]] = {}


def worth_interpreting(
    ctx: FileContext, rules: RuleSet
) -> Callable[[FunctionNode, str | None], bool]:
    """A predicate: may this (non-route) function produce a finding when interpreted?"""
    source = "\n".join(ctx.lines)
    if ctx.module_tainted or _is_script(source, ctx.lines):
        return lambda func, cls: True
    words = _words(ctx, rules) | _aliases(ctx, rules)
    hits = _hit_lines(source, ctx.lines, words)

    def worth(func: FunctionNode, cls: str | None) -> bool:
        if func.name.startswith(_SCRIPT_FUNCTION):
            return True
        if cls is not None and _watched_attributes(ctx, cls):
            return True
        last = func.end_lineno or func.lineno
        index = bisect_left(hits, func.lineno)
        if index < len(hits) and hits[index] <= last:
            return True
        if not ctx.downloaded:
            return False
        text = "\n".join(ctx.lines[func.lineno - 1 : last])
        return any(name in text for name in ctx.downloaded)

    return worth


_WATCHED = frozenset(
    (
        "requests",
        "httpx",
        "urllib",
        "urllib3",
        "aiohttp",
        "grpc",
        "tritonclient",
        "torch",
        "joblib",
        "pickle",
        "transformers",
        "keras",
        "mlflow",
        "tarfile",
        "zipfile",
        "yaml",
    )
)


def _watched_attributes(ctx: FileContext, cls: str) -> bool:
    """Whether another method stored something a rule follows on ``self`` (a client, a
    URL, tainted data), so that every method of the class is worth interpreting."""
    for (owner, _), value in ctx.self_attrs.items():
        if owner != cls:
            continue
        if value.taints or any("://" in s for s in value.strings()):
            return True
        names = [*value.refs(), *value.insts()]
        if any(n.partition(".")[0] in _WATCHED for n in names):
            return True
    return False


def _is_script(source: str, lines: list[str]) -> bool:
    """A training script: a ``__main__`` block, module-level fits, or fits next to an export.

    There the gap check (ML04) needs every evaluation in the file, helpers included.
    """
    if "__main__" in source:
        return True
    if ".fit(" not in source:
        return False
    if any(export in source for export in _EXPORTS):
        return True
    return any(".fit(" in line and line[:1] not in (" ", "\t", "#") for line in lines)


def _words(ctx: FileContext, rules: RuleSet) -> set[str]:
    base = _CACHE.get(id(rules))
    if base is None:
        base = _CACHE[id(rules)] = rules.trigger_words() | _ALWAYS
    if ctx.imports.star_modules:
        return set(base)
    return {w for w in base if w not in _CONDITIONAL or ctx.imports.uses(*_CONDITIONAL[w])}


def _aliases(ctx: FileContext, rules: RuleSet) -> set[str]:
    """Local names that stand for a rule's callee (``from torch import load as L``)."""
    eager = set(rules.by_terminal) - rules.lazy_terminals
    names = {
        local
        for local, targets in ctx.imports.bindings.items()
        if any(t.rpartition(".")[2] in eager for t in targets)
    }
    names |= {
        local
        for local, value in ctx.module_env.items()
        if any(r.rpartition(".")[2] in eager for r in value.refs())
    }
    return names


def _hit_lines(source: str, lines: list[str], words: Iterable[str]) -> list[int]:
    """Sorted line numbers holding a whole-word ``words`` or a taint-source substring."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    hits: set[int] = set()
    for word in words:
        _scan(source, word, starts, hits, whole=True)
    for token in _SOURCES:
        _scan(source, token, starts, hits, whole=False)
    return sorted(hits)


def _scan(source: str, word: str, starts: list[int], hits: set[int], *, whole: bool) -> None:
    # str.find runs in C and skips fast; only the (few) occurrences are looked at in Python.
    at = source.find(word)
    while at >= 0:
        end = at + len(word)
        if not whole or (
            (at == 0 or not _is_ident(source[at - 1]))
            and (end >= len(source) or not _is_ident(source[end]))
        ):
            hits.add(bisect_right(starts, at))
        at = source.find(word, end)


def _is_ident(char: str) -> bool:
    return char.isalnum() or char == "_"
