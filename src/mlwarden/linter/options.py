"""What a lint run checks and where: rule selection, per-path ignores, limits, parallelism.

Rules are named as in suppressions: a full id (``LINT-ML06-003``), an id prefix
(``LINT-ML06``, ``LINT``) or a risk (``ML06``). ``select`` empty means every rule; ``ignore``
wins over ``select``; ``per_file_ignores`` maps a glob (``tests/*``, ``**/notebooks/*``) to
rules ignored in matching files, as in ruff.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from mlwarden.errors import UsageError
from mlwarden.findings import Confidence

MiB = 1024 * 1024
_CODE = re.compile(r"^(?:ML\d\d|LINT(?:-[A-Z0-9]+(?:-\d{3})?)?)$")
_CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


def code_matches(code: str, rule_id: str) -> bool:
    """Whether ``code`` (id, id prefix or risk) names ``rule_id``."""
    if code == rule_id or rule_id.startswith(code + "-"):
        return True
    return code.startswith("ML") and f"-{code}-" in rule_id


def check_code(code: str) -> str:
    """Normalise a rule code from the user; raises ``UsageError`` for a malformed one."""
    norm = code.strip().upper()
    if not _CODE.match(norm):
        raise UsageError(
            f"not a rule code: {code!r}",
            hint="Use a rule id (LINT-ML06-003), a prefix (LINT-ML06) or a risk (ML06).",
        )
    return norm


@dataclass(frozen=True)
class LintOptions:
    """Everything that shapes a lint run, independent of where it came from."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    #: (glob, codes) pairs: rules ignored in files matching the glob.
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    jobs: int = 0
    max_file_bytes: int = 4 * MiB
    min_confidence: Confidence = Confidence.LOW
    #: Treat these directory names as always excluded (ruff's defaults).
    default_excludes: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "select", tuple(check_code(c) for c in self.select))
        object.__setattr__(self, "ignore", tuple(check_code(c) for c in self.ignore))
        object.__setattr__(
            self,
            "per_file_ignores",
            tuple((g, tuple(check_code(c) for c in codes)) for g, codes in self.per_file_ignores),
        )
        if self.jobs < 0 or self.max_file_bytes <= 0:
            raise UsageError("jobs must be >= 0 and max_file_bytes > 0")

    def enabled(self, rule_id: str, path: Path | None = None) -> bool:
        """Whether ``rule_id`` runs (in ``path``, when per-file ignores apply)."""
        if self.select and not any(code_matches(c, rule_id) for c in self.select):
            return False
        if any(code_matches(c, rule_id) for c in self.ignore):
            return False
        if path is not None:
            for glob, codes in self.per_file_ignores:
                if matches_glob(path, glob) and any(code_matches(c, rule_id) for c in codes):
                    return False
        return True

    def confident_enough(self, confidence: Confidence) -> bool:
        return _CONFIDENCE_RANK[confidence] >= _CONFIDENCE_RANK[self.min_confidence]


def matches_glob(path: Path, glob: str) -> bool:
    """fnmatch on the POSIX path, on each path suffix, and on the name (``*`` spans ``/``)."""
    text = path.as_posix()
    if fnmatch.fnmatch(text, glob) or fnmatch.fnmatch(path.name, glob):
        return True
    bare = glob[3:] if glob.startswith("**/") else glob
    parts = text.split("/")
    return any(fnmatch.fnmatch("/".join(parts[i:]), bare) for i in range(1, len(parts)))
