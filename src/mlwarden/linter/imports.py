"""Import-alias resolution: which fully qualified names a local name can stand for.

``import joblib as jl`` binds ``jl`` to ``joblib``; ``from torch import load as L`` binds ``L``
to ``torch.load``. A name bound by two imports (``try: from yaml import CSafeLoader as
Loader`` / ``except ImportError: from yaml import SafeLoader as Loader``) keeps both. Module
aliases that are the same library under another name (``cPickle``, ``tensorflow.keras``,
``sklearn.externals.joblib``) are folded into one canonical spelling so rules list each API
once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

# Longest prefix first is not needed: entries never prefix one another.
_CANONICAL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("cPickle", "pickle"),
    ("_pickle", "pickle"),
    ("pickle5", "pickle"),
    ("six.moves.cPickle", "pickle"),
    ("_compat_pickle", "pickle"),
    ("sklearn.externals.joblib", "joblib"),
    ("tensorflow.keras", "keras"),
    ("tensorflow.python.keras", "keras"),
    ("tf_keras", "keras"),
    ("keras.src", "keras"),
    ("keras.api", "keras"),
    ("torch.serialization", "torch"),
    ("dill._dill", "dill"),
    ("cloudpickle.cloudpickle", "cloudpickle"),
    ("numpy.lib.npyio", "numpy"),
    ("pandas.io.pickle", "pandas"),
    ("pandas.io", "pandas"),
    ("huggingface_hub.file_download", "huggingface_hub"),
    ("huggingface_hub._snapshot_download", "huggingface_hub"),
    ("transformers.pipelines", "transformers"),
    ("yaml.loader", "yaml"),
    ("yaml.cyaml", "yaml"),
    ("grpc.aio", "grpc"),
    ("urllib3.poolmanager", "urllib3"),
    ("six.moves.urllib", "urllib"),
)
_CANONICAL_MAP = dict(_CANONICAL_PREFIXES)


_HEADS = frozenset(p.partition(".")[0] for p, _ in _CANONICAL_PREFIXES)


def canonical(name: str) -> str:
    """Fold library aliases into one spelling (``tensorflow.keras.x`` -> ``keras.x``)."""
    if name.partition(".")[0] not in _HEADS:
        return name
    head = name
    while True:
        target = _CANONICAL_MAP.get(head)
        if target is not None:
            return target + name[len(head) :]
        cut = head.rfind(".")
        if cut < 0:
            return name
        head = head[:cut]


class ImportMap:
    """Local names bound by import statements anywhere in one module."""

    __slots__ = ("_prefixes", "bindings", "modules", "star_modules")

    def __init__(self) -> None:
        self.bindings: dict[str, set[str]] = {}
        self.star_modules: list[str] = []
        #: Every module imported, canonical (to know that ``flask`` or ``fastapi`` is used).
        self.modules: set[str] = set()
        self._prefixes: set[str] = set()

    def add_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self._bind(alias.asname, alias.name)
            else:
                # ``import os.path`` binds ``os``, to the top-level package.
                top = alias.name.partition(".")[0]
                self._bind(top, top)
            self._module(alias.name)

    def add_import_from(self, node: ast.ImportFrom) -> None:
        module = ("." * node.level) + (node.module or "")
        self._module(module)
        for alias in node.names:
            if alias.name == "*":
                self.star_modules.append(canonical(module))
                continue
            full = f"{module}.{alias.name}" if module else alias.name
            self._bind(alias.asname or alias.name, full)

    def _bind(self, local: str, qualified: str) -> None:
        self.bindings.setdefault(local, set()).add(canonical(qualified))

    def resolve(self, local: str) -> set[str] | None:
        """The qualified names ``local`` may stand for, or ``None`` when it is no import."""
        return self.bindings.get(local)

    def star_candidates(self, local: str) -> Iterable[str]:
        """Qualified names ``local`` could come from through ``from M import *``."""
        return (f"{module}.{local}" for module in self.star_modules)

    def _module(self, name: str) -> None:
        module = canonical(name)
        self.modules.add(module)
        parts = module.split(".")
        self._prefixes.update(".".join(parts[: i + 1]) for i in range(len(parts)))

    def uses(self, *prefixes: str) -> bool:
        """Whether any imported module is one of ``prefixes`` or inside one of them."""
        known = self._prefixes
        return any(p in known for p in prefixes)
