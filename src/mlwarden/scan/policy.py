"""Pickle global policy (placeholder signature; the real allow-list lands with the VM)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PicklePolicy:
    """Which pickle globals are trusted beyond the built-in reviewed allow-list."""

    allow: frozenset[str] = frozenset()
