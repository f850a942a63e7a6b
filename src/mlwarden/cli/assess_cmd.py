"""`mlwarden assess`: every check whose inputs are present, one verdict per OWASP ML risk.

Thin: parse flags -> settings -> :func:`mlwarden.assess.runner.assess` -> render -> exit code
(1 when a risk's verdict reaches ``--fail-on``, fail by default; otherwise 2 when a check
failed on its input, or on bad input such as a missing file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlwarden.cli._common import handle_errors, stderr_console, stdout_console, write_output
from mlwarden.cli.exit_codes import ExitCode
from mlwarden.config import load_settings
from mlwarden.errors import UsageError
from mlwarden.findings import Report

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not assessed": "dim"}
_INPUTS = (
    "model", "endpoint", "train", "test", "serving", "artifacts", "code", "policy", "base_model"
)  # fmt: skip


@click.command("assess")
@click.option("--model", help="Model file (or directory) to scan, verify and attack.")
@click.option("--endpoint", help="Live http(s):// endpoint to attack and check instead.")
@click.option("--api-key-env", help="Environment variable holding the endpoint's API key.")
@click.option("--api-key", help="The endpoint's API key (visible to other local users).")
@click.option("--train", help="Training data (CSV, Parquet, NPZ, or a bundled dataset).")
@click.option("--test", help="Held-out labelled data.")
@click.option("--serving", help="Data seen in production (drift against --train).")
@click.option("--label", help="Label column of the data files.")
@click.option("--artifacts", help="Folder of model artifacts to scan.")
@click.option("--code", help="Folder (or file) of training and serving code to lint.")
@click.option("--policy", help="Policy file with a [gateway] section to review.")
@click.option("--signature", help="The model's signature bundle (with --public-key).")
@click.option("--public-key", help="The signer's PEM public key.")
@click.option("--lock", "lockfile", help="mlwarden.lock with approved digests.")
@click.option("--base-model", help="Base model to check against the lockfile's sources.")
@click.option("--name", help="Name of this setup in the report.")
@click.option("--quick", is_flag=True, default=None, help="Smaller attack budgets (~4x faster).")
@click.option("--no-attacks", is_flag=True, help="Skip the attacks.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif", "html"]), help="Output."
)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--fail-on", type=click.Choice(["warn", "fail"]), help="Exit 1 at this verdict.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="mlwarden.toml.")
@click.option("--no-progress", is_flag=True, help="Do not show progress bars.")
@handle_errors
def assess_command(**flags: Any) -> None:
    """Assess a model, its data, artifacts, code and serving policy against the OWASP ML
    Top 10: every check whose inputs are given runs; each risk gets pass, warn, fail or
    not assessed (with the flag that would assess it), the numbers behind it and what to do."""
    from mlwarden.assess.runner import assess, failing_risks
    from mlwarden.assess.steps import AssessInputs
    from mlwarden.cli.audit_console import AuditProgress
    from mlwarden.models.threads import single_thread
    from mlwarden.report.render import render

    if not any(flags[k] for k in _INPUTS):
        raise UsageError("nothing to assess", hint="Give --model M, --test D, --policy P, ...")
    settings = load_settings(flags["config_file"], _overrides(flags))
    single_thread()
    inputs = AssessInputs(
        **{k: flags[k] for k in (*_INPUTS, "label", "signature", "public_key", "lockfile")},
        api_key=_api_key(flags),
        name=flags["name"],
    )
    with AuditProgress(stderr_console(), enabled=not flags["no_progress"]) as on_event:
        report = assess(inputs, settings, on_event=on_event)
    fmt = settings.report.format
    if fmt == "text":
        console = stdout_console()
        with console.capture() as captured:
            render_assessment(report, console)
        write_output(captured.get().rstrip("\n"), flags["output"])
    else:
        write_output(render(report, fmt), flags["output"])
    failing = failing_risks(report, settings.assess.fail_on)
    if failing:
        sys.exit(ExitCode.FINDINGS)
    # A check that could not run on what was given (an invalid policy file, ...) is an error.
    sys.exit(ExitCode.ERROR if report.errors else ExitCode.OK)


def _api_key(flags: dict[str, Any]) -> str | None:
    env = flags["api_key_env"]
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UsageError(f"environment variable {env} is not set")
        return value
    key: str | None = flags["api_key"]
    return key


def render_assessment(report: Report, console: Console) -> None:
    """The verdict per risk, then what ran and what did not."""
    from mlwarden.risks import RISKS

    table = Table(title="OWASP ML Top 10 assessment", header_style="bold", show_lines=False)
    for column in ("risk", "status", "summary"):
        table.add_column(column, overflow="fold")
    risks = report.evidence.get("risks", {})
    for risk in RISKS:
        entry = risks.get(risk.value, {})
        status = str(entry.get("status", "not assessed"))
        name = f"{risk.value} {RISKS[risk].title}"
        table.add_row(name, Text(status, style=_STYLE.get(status, "")), Text(entry["summary"]))
    console.print(table)
    steps = report.evidence["assessment"]["steps"]["rows"]
    for check, result, note in steps:
        console.print(Text(f"  {check}: {result} - {note}"), highlight=False)
    counts = ", ".join(f"{n} {k}" for k, n in report.counts().items() if n)
    console.print(Text(f"assess: {len(report.findings)} finding(s) ({counts or 'none'})"))


def _overrides(flags: dict[str, Any]) -> dict[str, Any]:
    return {
        "assess": {
            "fail_on": flags["fail_on"],
            "quick": flags["quick"],
            "attacks": False if flags["no_attacks"] else None,
        },
        "report": {"format": flags["fmt"]},
    }
