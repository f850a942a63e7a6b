"""The progress observers drive rich bars from core events when attached to a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from mlwarden.attacks.registry import AuditEvent
from mlwarden.cli.audit_console import AuditProgress
from mlwarden.cli.console import ScanProgress
from mlwarden.scan.engine import ScanEvent


def _terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100)


def test_scan_progress_tracks_files() -> None:
    observer = ScanProgress(_terminal(), enabled=True)
    with observer as on_event:
        on_event(ScanEvent("start", 3))
        on_event(ScanEvent("file", 3, 2, "a.pkl"))
    assert observer.task is not None
    assert observer.progress.tasks[0].completed == 2
    assert observer.progress.tasks[0].total == 3


def test_audit_progress_one_bar_per_stage() -> None:
    observer = AuditProgress(_terminal(), enabled=True)
    with observer as on_event:
        for done in (1, 2):
            on_event(AuditEvent(probe="evasion", stage="pgd", done=done, total=4))
        on_event(AuditEvent(probe="evasion", stage="square", done=1, total=2))
    assert len(observer.tasks) == 2
    assert [t.completed for t in observer.progress.tasks] == [2, 1]


def test_disabled_off_terminal() -> None:
    observer = ScanProgress(Console(file=io.StringIO()), enabled=True)
    with observer as on_event:
        on_event(ScanEvent("start", 3))
    assert not observer.enabled
    assert observer.task is None
