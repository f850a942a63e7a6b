"""Judges the globals a pickle resolves: safe, dangerous, nested loader or unknown.

Allow-list first: what ML files really contain is listed in ``data/pickle_globals.toml``
(reviewed data, not code); known code-execution, file, network and import gadgets are
dangerous; everything else is unknown and needs a human (or a config allow entry).
"""

from __future__ import annotations

import _compat_pickle
import sys
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class Kind(str, Enum):
    SAFE = "safe"
    UNKNOWN = "unknown"
    LOADER = "loader"
    DANGEROUS = "dangerous"


_RANK = {Kind.SAFE: 0, Kind.UNKNOWN: 1, Kind.LOADER: 2, Kind.DANGEROUS: 3}


@dataclass(frozen=True)
class Verdict:
    """How a global is judged, and why (the reason is shown to users)."""

    kind: Kind
    reason: str
    scan_argument: bool = False

    def worse(self, other: Verdict) -> Verdict:
        return other if _RANK[other.kind] > _RANK[self.kind] else self


@dataclass(frozen=True)
class _Tables:
    safe: frozenset[str]
    prefixes: tuple[str, ...]
    helpers: frozenset[str]
    excluded: tuple[str, ...]
    any_name: tuple[str, ...]
    dangerous_modules: frozenset[str]
    dangerous_names: frozenset[str]
    attributes: frozenset[str]
    walk_attributes: frozenset[str]
    loaders: frozenset[str]
    scanned_argument: frozenset[str]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    raw: dict[str, Any] = tomllib.loads(
        resources.files("mlwarden.scan").joinpath("data/pickle_globals.toml").read_text("utf-8")
    )
    safe = frozenset(f"{mod}.{name}" for mod, names in raw["safe"].items() for name in names)
    pat, dang, load = raw["safe_patterns"], raw["dangerous"], raw["loaders"]
    return _Tables(
        safe=safe,
        prefixes=tuple(pat["prefixes"]),
        helpers=frozenset(pat["helpers"]),
        excluded=tuple(pat["excluded"]),
        any_name=tuple(pat["any_name"]),
        dangerous_modules=frozenset(dang["modules"]),
        dangerous_names=frozenset(dang["names"]),
        attributes=frozenset(dang["attributes"]),
        walk_attributes=frozenset(dang["walk_attributes"]),
        loaders=frozenset(load["names"]),
        scanned_argument=frozenset(load["scanned_argument"]),
    )


def _module_prefixes(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _judge_exact(module: str, name: str, t: _Tables) -> Verdict | None:
    """Verdict for a plain (non-dotted) name from the tables, or None when not listed."""
    full = f"{module}.{name}"
    if full in t.loaders:
        return Verdict(Kind.LOADER, "nested deserialiser", full in t.scanned_argument)
    if full in t.dangerous_names:
        return Verdict(Kind.DANGEROUS, "known code-execution/file/network gadget")
    if full in t.safe:
        return Verdict(Kind.SAFE, "reviewed allow-list")
    for prefix in _module_prefixes(module):
        if prefix in t.dangerous_modules or full in t.dangerous_modules:
            return Verdict(Kind.DANGEROUS, f"module {prefix!r} runs code or touches the system")
    if name in t.attributes:
        return Verdict(Kind.DANGEROUS, f"{name!r} executes code or commands")
    return None


def _pattern_safe(module: str, name: str, t: _Tables) -> bool:
    full = f"{module}.{name}"
    if any(full.startswith(p) for p in t.any_name):
        return True
    dotted = module + "."
    if not any(dotted.startswith(p) or module == p.rstrip(".") for p in t.prefixes):
        return False
    if any(full.startswith(e) or dotted.startswith(e) for e in t.excluded):
        return False
    is_class = name.lstrip("_")[:1].isupper()
    return is_class or name.startswith("__pyx_unpickle_") or name in t.helpers


def _judge_plain(module: str, name: str, t: _Tables) -> Verdict:
    verdict = _judge_exact(module, name, t)
    if verdict is not None:
        return verdict
    if _pattern_safe(module, name, t):
        return Verdict(Kind.SAFE, "trusted package class")
    return Verdict(Kind.UNKNOWN, "not on the allow-list")


def _judge_walk(module: str, name: str, t: _Tables) -> Verdict:
    """Protocol >= 4 resolves 'a.b.c' by attribute walks: judge every sub-path of the walk."""
    full = f"{module}.{name}"
    if full in t.safe:
        return Verdict(Kind.SAFE, "reviewed allow-list")
    parts = full.split(".")
    worst = Verdict(Kind.UNKNOWN, "attribute walk to a name not on the allow-list")
    if parts[-1] in t.walk_attributes or parts[-1] in t.attributes:
        worst = Verdict(Kind.DANGEROUS, f"attribute walk ends in {parts[-1]!r}")
    for i in range(len(parts) - 1):
        for j in range(i + 2, len(parts) + 1):
            sub = _judge_exact(".".join(parts[i : j - 1]), parts[j - 1], t)
            if sub is not None and sub.kind is not Kind.SAFE:
                worst = worst.worse(Verdict(sub.kind, f"walk reaches {'.'.join(parts[i:j])}"))
    return worst


def _candidates(module: str, name: str) -> list[tuple[str, str]]:
    """The (module, name) pairs the unpickler may resolve, Python 2 renames included."""
    out = [(module, name), (module.strip(), name.strip())]
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped:
        out.append(mapped)
    if module in _compat_pickle.IMPORT_MAPPING:
        out.append((_compat_pickle.IMPORT_MAPPING[module], name))
    return out


@dataclass(frozen=True)
class PicklePolicy:
    """Which pickle globals are trusted beyond the built-in reviewed allow-list.

    Attributes:
        allow: extra trusted globals, as ``"module.name"`` or ``"module.*"``. They only
            clear *unknown* globals: a dangerous global stays a finding whatever the config.
    """

    allow: frozenset[str] = field(default_factory=frozenset)

    def _user_allows(self, module: str, name: str) -> bool:
        if f"{module}.{name}" in self.allow:
            return True
        return any(f"{prefix}.*" in self.allow for prefix in _module_prefixes(module))

    def judge(self, module: str, name: str) -> Verdict:
        """Judge the global ``module.name`` as the unpickler would resolve it."""
        t = _tables()
        verdicts = [
            (_judge_walk if "." in nm else _judge_plain)(mod, nm, t)
            for mod, nm in _candidates(module, name)
        ]
        verdict = verdicts[0]
        for other in verdicts[1:]:
            verdict = verdict.worse(other)
        if verdict.kind is Kind.UNKNOWN and any(v.kind is Kind.SAFE for v in verdicts):
            # A Python 2 name (copy_reg, __builtin__) only resolves through its mapping.
            verdict = next(v for v in verdicts if v.kind is Kind.SAFE)
        if verdict.kind is Kind.UNKNOWN and self._user_allows(module, name):
            return Verdict(Kind.SAFE, "allowed by configuration")
        return verdict
