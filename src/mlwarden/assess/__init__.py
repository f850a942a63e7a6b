"""The OWASP ML Top 10 assessment: every check whose inputs are present, one verdict per risk.

:func:`mlwarden.assess.runner.assess` runs the steps; :mod:`~mlwarden.assess.verdicts`
turns their findings and numbers into the pass / warn / fail / not assessed verdicts;
:mod:`~mlwarden.assess.mitigations` says what to do about each risk. The package imports
nothing heavy until :func:`assess` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlwarden.assess.steps import AssessInputs

if TYPE_CHECKING:
    from mlwarden.attacks.registry import AuditEvent
    from mlwarden.config import Settings
    from mlwarden.findings import Report


def assess(
    inputs: AssessInputs,
    settings: Settings | None = None,
    *,
    on_event: Callable[[AuditEvent], None] | None = None,
) -> Report:
    """Assess against the OWASP ML Top 10 (see :func:`mlwarden.assess.runner.assess`)."""
    from mlwarden.assess.runner import assess as run

    return run(inputs, settings, on_event=on_event)


__all__ = ["AssessInputs", "assess"]
