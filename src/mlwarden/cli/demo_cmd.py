"""`mlwarden demo`: the main job on bundled data: the guide's vulnerable and secure setups,
trained on scikit-learn's digits, assessed risk by risk, compared in one HTML report.

Thin: flags -> :func:`mlwarden.demo.story.run_demo` (progress bars on stderr) -> a verdict
table side by side -> exit 0 when the story holds (every planted risk caught in the
vulnerable setup and better in the secure one), 1 otherwise.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from mlwarden.cli._common import handle_errors, stderr_console, stdout_console
from mlwarden.cli.exit_codes import ExitCode

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not assessed": "dim"}


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("mlwarden-demo"),
    show_default=True,
    help="Folder for both setups and the report (report.html, vulnerable.json, secure.json).",
)
@click.option("--quick", is_flag=True, help="Smaller attack budgets (under a minute).")
@click.option("--scanner", is_flag=True, help="Only the scanner demo: model files, no training.")
@click.option("--no-progress", is_flag=True, help="Do not show progress bars.")
@handle_errors
def demo_command(out: Path, quick: bool, scanner: bool, no_progress: bool) -> None:
    """Train the guide's vulnerable and secure setups on bundled data, assess both against
    the OWASP ML Top 10, and write one side-by-side report (OUT/report.html)."""
    if scanner:
        sys.exit(_scanner_demo())
    from mlwarden.cli.audit_console import AuditProgress
    from mlwarden.demo.story import run_demo
    from mlwarden.models.threads import single_thread

    single_thread()
    console = stdout_console()
    with AuditProgress(stderr_console(), enabled=not no_progress) as on_event:
        result = run_demo(out, quick=quick, on_event=on_event)
    console.print(_table(result))
    console.print(Text(f"report: {result.html}"))
    if result.ok:
        console.print("every planted risk was caught, and the secure setup does better on each")
    else:
        for problem in result.problems:
            console.print(Text(f"story does not hold: {problem}", style="bold red"))
    sys.exit(ExitCode.OK if result.ok else ExitCode.FINDINGS)


def _table(result: Any) -> Table:
    from mlwarden.demo.story import statuses
    from mlwarden.risks import RISKS

    bad, good = (statuses(r) for r in result.reports)
    table = Table(title="mlwarden demo: OWASP ML Top 10", header_style="bold")
    for column in ("risk", *(s.title for s in result.setups), "what the secure setup does"):
        table.add_column(column, overflow="fold")
    secure = result.reports[1].evidence["risks"]
    for risk in RISKS:
        key = risk.value
        advice = secure[key]["mitigation"][0] if secure[key].get("mitigation") else ""
        table.add_row(
            f"{key} {RISKS[risk].title}",
            Text(bad[key], style=_STYLE.get(bad[key], "")),
            Text(good[key], style=_STYLE.get(good[key], "")),
            Text(advice),
        )
    return table


def _scanner_demo() -> int:
    """The artifact scanner on a folder of realistic model files (planted payloads caught)."""
    from mlwarden.cli.console import render_text
    from mlwarden.demo.files import build_demo_folder
    from mlwarden.findings import Severity
    from mlwarden.scan.engine import ScanOptions, scan

    console = stdout_console()
    with tempfile.TemporaryDirectory(prefix="mlwarden-demo-") as tmp:
        root = Path(tmp)
        table = build_demo_folder(root)
        report = scan([root], ScanOptions(jobs=1))
        render_text(report, console)
        flagged = {f.location.path for f in report.at_or_above(Severity.MEDIUM)}
        ok = all((str(root / item.relpath) in flagged) == item.malicious for item in table)
    console.print(
        "every planted payload caught, every benign file clean"
        if ok
        else "[bold red]scanner verdicts differ from expectations[/bold red]"
    )
    return ExitCode.OK if ok else ExitCode.FINDINGS
