"""The ML security linter: insecure code patterns of the OWASP ML Top 10 (``mlwarden lint``).

Python source and notebooks are parsed with :mod:`ast` (never imported or run) and
interpreted once per function with import-alias resolution, constant and taint propagation,
and request-to-prediction flow across the functions of a file. Rules live in
:mod:`mlwarden.linter.checks`; their catalogue entries in :mod:`mlwarden.linter.rules`.

``lint`` and ``LintOptions`` are imported on first use: the rule catalogue
(``mlwarden.linter.rules``) is read by every ``import mlwarden`` and should not pull the
engine in with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlwarden._lazy import lazy_names

if TYPE_CHECKING:
    from mlwarden.linter.api import lint
    from mlwarden.linter.options import LintOptions

__all__ = ["LintOptions", "lint"]
_LAZY = {"lint": "mlwarden.linter.api", "LintOptions": "mlwarden.linter.options"}


__getattr__ = lazy_names(__name__, _LAZY)
