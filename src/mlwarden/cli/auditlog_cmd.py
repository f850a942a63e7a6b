"""`mlwarden audit-log verify|tail`: check the gateway's hash-chained audit log.

``verify`` exits 0 when every record is intact and chained, 1 when a record was edited,
inserted or deleted (each problem listed), 2 on errors. Keep the printed head
(``SEQ:HASH``) elsewhere and pass it back as ``--anchor`` to detect a truncated log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mlwarden.cli._common import handle_errors
from mlwarden.cli.exit_codes import ExitCode
from mlwarden.config import load_settings
from mlwarden.errors import UsageError

_P = click.Path(path_type=Path)


def _url(url: str | None, policy_file: Path | None) -> str:
    return url or load_settings(policy_file).gateway.audit.url


def _anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, sep, digest = value.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise UsageError(f"--anchor takes SEQ:HASH (as verify prints it), not {value!r}")
    return int(seq), digest


@click.group("audit-log")
def auditlog_group() -> None:
    """The gateway's append-only, hash-chained audit log."""


@auditlog_group.command("verify")
@click.option("--url", help="sqlite:///PATH or postgresql://... (default: from the policy).")
@click.option("--policy", "policy_file", type=_P, help="mlwarden.toml.")
@click.option("--table", default="audit_log", show_default=True, help="Table name.")
@click.option("--anchor", help="SEQ:HASH of a record kept elsewhere (detects truncation).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@handle_errors
def verify(
    url: str | None, policy_file: Path | None, table: str, anchor: str | None, fmt: str
) -> None:
    """Verify every record's hash, the chain links and the sequence."""
    from mlwarden.gateway.auditlog import open_audit_log, verify_chain

    sink = open_audit_log(_url(url, policy_file), table=table)
    try:
        report = verify_chain(sink.records(), _anchor(anchor))
    finally:
        sink.close()
    head = f"{report.head[0]}:{report.head[1]}"
    if fmt == "json":
        data: dict[str, Any] = {
            "ok": report.ok,
            "records": report.records,
            "problems": list(report.problems),
            "head": head,
        }
        click.echo(json.dumps(data, indent=2))
    else:
        for problem in report.problems:
            click.echo(f"FAIL {problem}")
        verdict = "intact" if report.ok else "TAMPERED"
        click.echo(f"{verdict}: {report.records} record(s); head {head}")
    sys.exit(ExitCode.OK if report.ok else ExitCode.FINDINGS)
