"""Rich output of `mlwarden audit`: progress bars per stage and the evasion tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    TaskID,
)
from rich.table import Table

from mlwarden.attacks.registry import AuditEvent
from mlwarden.cli.console import ProgressObserver
from mlwarden.findings import Report


class AuditProgress(ProgressObserver):
    """Progress bars driven by :class:`AuditEvent` (one per probe stage; terminal only)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        super().__init__(console, enabled, "[bold]{task.description}")
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def on_event(self, event: AuditEvent) -> None:
        if not self.enabled:
            return
        key = (event.probe, event.stage)
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(
                f"{event.probe}: {event.stage}", total=event.total
            )
        self.progress.update(self.tasks[key], completed=event.done, total=event.total)


def _curve_rows(table: Table, label: str, curve: dict[str, Any]) -> None:
    for point in curve["points"]:
        table.add_row(
            label,
            f"{point['eps']:g}",
            f"{point['robust_accuracy']:.3f}",
            f"{point['attack_success_rate']:.3f}",
        )


def render_evasion(report: Report, console: Console) -> None:
    """Robust accuracy vs eps (and naive vs adaptive for defended models)."""
    evidence = report.evidence.get("evasion")
    if not evidence:
        return
    title = (
        f"evasion ({evidence['norm']}, {evidence['samples']} inputs, clean accuracy "
        f"{evidence['clean_accuracy']:.3f})"
    )
    table = Table(title=title, header_style="bold")
    for column in ("attack", "eps", "robust accuracy", "attack success"):
        table.add_column(column, justify="right" if column != "attack" else "left")
    for curve in evidence.get("curves", []):
        _curve_rows(table, f"{curve['mode']} (model)", curve)
    defended = evidence.get("defended")
    if defended:
        _curve_rows(table, "defended, naive", defended["naive"])
        _curve_rows(table, "defended, adaptive", defended["adaptive"])
    console.print(table)
    if defended:
        costs = ", ".join(
            f"{d['defense']} fpr {d['false_positive_rate']:.3f}" for d in defended["defenses"]
        )
        console.print(f"defences on clean data: {costs}")
        console.print(f"adaptive attack: {'; '.join(defended['techniques'])}")
