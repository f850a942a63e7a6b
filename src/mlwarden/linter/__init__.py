"""The ML security linter: insecure code patterns of the OWASP ML Top 10 (``mlwarden lint``).

Python source and notebooks are parsed with :mod:`ast` (never imported or run) and
interpreted once per function with import-alias resolution, constant and taint propagation,
and request-to-prediction flow across the functions of a file. Rules live in
:mod:`mlwarden.linter.checks`; their catalogue entries in :mod:`mlwarden.linter.rules`.
"""

from mlwarden.linter.api import lint
from mlwarden.linter.options import LintOptions

__all__ = ["LintOptions", "lint"]
