"""The OWASP ML Top 10 assessment: every check whose inputs are present, one verdict per risk.

:func:`mlwarden.assess.runner.assess` runs the steps; :mod:`~mlwarden.assess.verdicts`
turns their findings and numbers into the pass / warn / fail / not assessed verdicts;
:mod:`~mlwarden.assess.mitigations` says what to do about each risk. The package imports
nothing heavy until :func:`assess` runs.
"""

from __future__ import annotations
