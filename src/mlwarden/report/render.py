"""Pick a renderer by format name: the one entry point the CLI uses for machine output.

Text output is rendered by the CLI with rich (library code never prints); this module turns a
:class:`~mlwarden.findings.Report` into JSON, SARIF or self-contained HTML text.
"""

from __future__ import annotations

import os

from mlwarden.errors import UsageError
from mlwarden.findings import Report
from mlwarden.report.html import to_html
from mlwarden.report.json_report import to_json
from mlwarden.report.sarif import to_sarif

FORMATS = ("text", "json", "sarif", "html")


def render(report: Report, fmt: str, *, base_dir: str | os.PathLike[str] | None = None) -> str:
    """Render ``report`` as ``fmt`` (``"json"``, ``"sarif"`` or ``"html"``).

    Args:
        report: the report to render.
        fmt: one of :data:`FORMATS` other than ``"text"``.
        base_dir: directory SARIF paths are made relative to (default: the current
            directory); JSON keeps the paths exactly as the report has them.

    Raises:
        UsageError: for ``"text"`` (rendered by the CLI) or an unknown format.
    """
    if fmt == "json":
        return to_json(report)
    if fmt == "sarif":
        return to_sarif(report, base_dir=base_dir)
    if fmt == "html":
        return to_html(report)
    if fmt == "text":
        raise UsageError(
            "text output is rendered by the command line, not by mlwarden.report",
            hint="Use render() for json, sarif or html; the CLI prints text with rich.",
        )
    raise UsageError(
        f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}",
        hint="Pass --format text, json, sarif or html.",
    )
