"""The process exit codes of every mlwarden command."""

from __future__ import annotations

from enum import IntEnum

from mlwarden.findings import Report, Severity


class ExitCode(IntEnum):
    """0 clean, 1 findings at/above --fail-on (or verification failed), 2 error, 3 nothing."""

    OK = 0
    FINDINGS = 1
    ERROR = 2
    NOTHING_SCANNED = 3


def exit_code_for(report: Report, fail_on: Severity) -> ExitCode:
    """Findings at or above ``fail_on`` win; then item errors; then an empty scan."""
    if report.at_or_above(fail_on):
        return ExitCode.FINDINGS
    if report.errors:
        return ExitCode.ERROR
    if not report.scanned:
        return ExitCode.NOTHING_SCANNED
    return ExitCode.OK
