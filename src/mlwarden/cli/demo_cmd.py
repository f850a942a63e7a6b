"""`mlwarden demo`: the main job on bundled data: build a model folder, scan it, explain."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
from rich.table import Table

from mlwarden.cli._common import handle_errors, stdout_console
from mlwarden.cli.console import render_text
from mlwarden.cli.exit_codes import ExitCode
from mlwarden.demo import build_demo_folder
from mlwarden.findings import Severity
from mlwarden.scan.engine import ScanOptions, scan


@click.command("demo")
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the demo files here and keep them (default: a temp dir).",
)
@handle_errors
def demo_command(keep: Path | None) -> None:
    """Build a folder of realistic model files (a few with harmless planted payloads) and
    scan it: shows what `mlwarden scan` catches without loading anything."""
    console = stdout_console()
    with tempfile.TemporaryDirectory(prefix="mlwarden-demo-") as tmp:
        root = keep or Path(tmp)
        table = build_demo_folder(root)
        console.print(f"[bold]mlwarden demo[/bold]: {len(table)} model files in {root}")
        report = scan([root], ScanOptions(jobs=1))
        render_text(report, console)
        flagged = {f.location.path for f in report.at_or_above(Severity.MEDIUM)}
        verdicts = Table(title="expected vs found", header_style="bold")
        for column in ("file", "planted payload", "flagged", "story"):
            verdicts.add_column(column)
        ok = True
        for item in table:
            hit = str(root / item.relpath) in flagged
            ok &= hit == item.malicious
            verdicts.add_row(
                item.relpath,
                "yes" if item.malicious else "no",
                "[red]yes[/red]" if hit else "[green]no[/green]",
                item.story,
            )
        console.print(verdicts)
        console.print(
            "every planted payload caught, every benign file clean"
            if ok
            else "[bold red]demo verdicts differ from expectations[/bold red]"
        )
    sys.exit(ExitCode.OK if ok else ExitCode.FINDINGS)
