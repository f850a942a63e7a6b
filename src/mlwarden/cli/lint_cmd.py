"""`mlwarden lint`: flag insecure ML code patterns (OWASP ML01-ML10) in Python and notebooks."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from mlwarden.cli._common import handle_errors, stderr_console, stdout_console, write_output
from mlwarden.cli.exit_codes import ExitCode, exit_code_for
from mlwarden.config import load_settings
from mlwarden.findings import Finding, Report, Severity
from mlwarden.report.render import render
from mlwarden.rules import RULES

_SEVERITIES = click.Choice(["info", "low", "medium", "high", "critical"], case_sensitive=False)
_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _codes(values: tuple[str, ...]) -> tuple[str, ...] | None:
    """``--select A,B --select C`` -> ("A", "B", "C"); None when not given."""
    out = tuple(c.strip() for v in values for c in v.split(",") if c.strip())
    return out or None


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), help="Output.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--select", multiple=True, help="Only these rules: LINT-ML06-003, LINT-ML06, ML06.")
@click.option("--ignore", multiple=True, help="Never report these rules (same forms).")
@click.option("--exclude", multiple=True, help="Skip paths matching this glob.")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False), help="Baseline.")
@click.option("--write-baseline", is_flag=True, help="(Re)write --baseline from this run.")
@click.option("--fail-on", type=_SEVERITIES, help="Exit 1 at or above this severity.")
@click.option(
    "--min-confidence",
    type=click.Choice(["low", "medium", "high"]),
    help="Hide findings below this confidence.",
)
@click.option("--jobs", "-j", type=click.IntRange(min=0), help="Worker processes (0 = auto).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="mlwarden.toml.")
@click.option("--statistics", is_flag=True, help="Count findings per rule instead of listing.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--list-rules", is_flag=True, help="List the lint rules and exit.")
@click.option("--verbose", "-v", is_flag=True, help="List skipped files too.")
@click.option("--allow-empty", is_flag=True, help="Exit 0, not 3, when no file was linted.")
@handle_errors
def lint_command(
    paths: tuple[Path, ...],
    fmt: str | None,
    output: Path | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    baseline: Path | None,
    write_baseline: bool,
    fail_on: str | None,
    min_confidence: str | None,
    jobs: int | None,
    config_file: Path | None,
    statistics: bool,
    exit_zero: bool,
    list_rules: bool,
    verbose: bool,
    allow_empty: bool,
) -> None:
    """Lint Python files, folders and notebooks for insecure ML code (OWASP ML01-ML10).

    Nothing is imported or run. Suppress a finding with a reason:
    `# mlwarden: ignore[LINT-ML06-002] built by this pipeline`. Without PATHS, lints ".".
    """
    if list_rules:
        _print_rules(stdout_console())
        sys.exit(ExitCode.OK)
    from mlwarden.linter.api import lint

    settings = load_settings(
        config_file,
        {
            "lint": {
                "fail_on": fail_on,
                "select": _codes(select),
                "ignore": _codes(ignore),
                "exclude": exclude,
                "jobs": jobs,
                "min_confidence": min_confidence,
                "baseline": str(baseline) if baseline is not None else None,
            },
            "report": {"format": fmt},
        },
    )
    lint_settings = settings.lint
    baseline_file = lint_settings.baseline or None
    report = lint(
        list(paths) or [Path(".")],
        lint_settings.to_options(),
        baseline=baseline_file,
        write_baseline=write_baseline,
    )
    _emit(report, settings.report.format, output, verbose=verbose, statistics=statistics)
    code = exit_code_for(report, lint_settings.fail_on)
    if code is ExitCode.NOTHING_SCANNED and allow_empty:
        code = ExitCode.OK
    if code is ExitCode.FINDINGS and exit_zero:
        code = ExitCode.OK
    if "baseline_written" in report.metrics:
        stderr_console().print(
            f"baseline written to {report.metrics['baseline_written']} "
            f"({report.metrics['baselined']} finding(s) accepted)"
        )
    sys.exit(code)


def _emit(
    report: Report, fmt: str, output: Path | None, *, verbose: bool, statistics: bool
) -> None:
    if fmt != "text":
        write_output(render(report, fmt), output)
        return
    console = stdout_console()
    if output is None:
        _render_text(report, console, verbose=verbose, statistics=statistics)
        return
    with console.capture() as captured:
        _render_text(report, console, verbose=verbose, statistics=statistics)
    write_output(captured.get(), output)


def where(finding: Finding) -> str:
    """``path:line:col`` (``nb.ipynb:cell 3:5:1`` for notebooks), as editors link it."""
    loc = finding.location
    parts = [loc.path]
    if loc.member:
        parts.append(loc.member)
    parts += [str(loc.line or 1), str(loc.column or 1)]
    return ":".join(parts)


def _render_text(report: Report, console: Console, *, verbose: bool, statistics: bool) -> None:
    if statistics:
        counts = Counter(f.rule_id for f in report.findings)
        for rule_id, count in counts.most_common():
            rule = RULES.get(rule_id)
            console.print(Text(f"{count:6d}  {rule_id}  {rule.name if rule else ''}"))
    else:
        for f in report.findings:
            line = Text(f"{where(f)}: ", style="bold")
            line.append(f.rule_id, style=_STYLE[f.severity])
            line.append(f" [{f.severity.value}, {f.confidence.value} confidence] ")
            line.append(f.message)
            console.print(line)
    for err in report.errors:
        console.print(Text(f"error: {err.path}: {err.error}", style="red"))
    if verbose:
        for item in report.skipped:
            console.print(Text(f"skipped: {item.path}: {item.reason}", style="dim"))
    console.print(Text(_summary(report)))


def _summary(report: Report) -> str:
    m = report.metrics
    counts = ", ".join(f"{n} {name}" for name, n in report.counts().items() if n)
    extra = [f"{m[key]} {key}" for key in ("suppressed", "baselined") if m.get(key)]
    return (
        f"lint: {m.get('files_linted', len(report.scanned))} file(s), {m.get('lines', 0)} lines, "
        f"{len(report.findings)} finding(s){' (' + counts + ')' if counts else ''}"
        f"{', ' + ', '.join(extra) if extra else ''}, {len(report.skipped)} skipped, "
        f"{len(report.errors)} error(s)"
    )


def _print_rules(console: Console) -> None:
    for rule in sorted(RULES.values(), key=lambda r: r.id):
        if rule.id.startswith("LINT-"):
            console.print(
                Text(f"{rule.id}  {rule.risk.value}  {rule.severity.value:<6}  {rule.name}")
            )
