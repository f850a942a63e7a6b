"""Rich console output: the text rendering of a report and the progress observer."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from mlwarden.findings import Report, Severity
from mlwarden.report.json_report import finding_sort_key
from mlwarden.rules import RULES
from mlwarden.scan.engine import ScanEvent

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def render_text(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Print ``report`` as a table of findings and a summary line."""
    findings = sorted(report.findings, key=finding_sort_key)
    if findings:
        table = Table(show_lines=False, header_style="bold", expand=False)
        for column in ("severity", "rule", "risk", "location", "message"):
            table.add_column(column, overflow="fold")
        for f in findings:
            rule = RULES.get(f.rule_id)
            table.add_row(
                Text(f.severity.value, style=_STYLE[f.severity]),
                f.rule_id,
                rule.risk.value if rule else "",
                Text(str(f.location)),
                Text(f.message),
            )
        console.print(table)
    if report.errors:
        console.print("[bold]errors[/bold]")
        for err in report.errors:
            console.print(Text(f"  {err.path}: {err.error}"))
    if report.skipped and verbose:
        console.print("[bold]skipped[/bold]")
        for item in report.skipped:
            console.print(Text(f"  {item.path}: {item.reason}"))
    console.print(Text(_summary(report)))


def _summary(report: Report) -> str:
    counts = ", ".join(f"{n} {name}" for name, n in report.counts().items() if n)
    scanned = report.metrics.get("files_scanned", len(report.scanned))
    return (
        f"{report.command}: {scanned} file(s) scanned, {len(report.findings)} finding(s)"
        f"{' (' + counts + ')' if counts else ''}, {len(report.skipped)} skipped, "
        f"{len(report.errors)} error(s)"
    )


class ProgressObserver:
    """Base of the progress bars the CLI plugs into the core's events (terminal only).

    Subclasses implement ``on_event``; ``with observer as on_event:`` starts and stops the
    bars around the work.
    """

    def __init__(self, console: Console, enabled: bool, label: str) -> None:
        self.enabled = enabled and console.is_terminal
        self.progress = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )

    def __enter__(self) -> Callable[[Any], None]:
        if self.enabled:
            self.progress.start()
        return self.on_event

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.enabled:
            self.progress.stop()

    def on_event(self, event: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class ScanProgress(ProgressObserver):
    """A progress bar driven by :class:`ScanEvent` (shown only on a terminal)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        super().__init__(console, enabled, "[bold]scanning")
        self.task: TaskID | None = None

    def on_event(self, event: ScanEvent) -> None:
        if not self.enabled:
            return
        if event.kind == "start":
            self.task = self.progress.add_task("scan", total=event.total)
        elif self.task is not None:
            self.progress.update(self.task, completed=event.done)
