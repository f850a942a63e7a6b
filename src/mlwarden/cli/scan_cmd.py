"""`mlwarden scan`: inspect model files without loading them (ML06, ML10)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlwarden.cli._common import handle_errors, stderr_console, stdout_console, write_output
from mlwarden.cli.console import ScanProgress, render_text
from mlwarden.cli.exit_codes import ExitCode, exit_code_for
from mlwarden.config import load_settings
from mlwarden.report.render import FORMATS, render
from mlwarden.scan.engine import scan

_SEVERITIES = click.Choice(["info", "low", "medium", "high", "critical"], case_sensitive=False)


@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--fail-on", type=_SEVERITIES, help="Exit 1 at or above this severity.")
@click.option("--allow", multiple=True, help="Trust an unknown pickle global (MODULE.NAME).")
@click.option("--include", multiple=True, help="Only scan paths matching this glob.")
@click.option("--exclude", multiple=True, help="Skip paths matching this glob.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), help="Worker processes (0 = auto).")
@click.option("--follow-symlinks", is_flag=True, default=None, help="Follow symbolic links.")
@click.option("--max-file-seconds", type=click.FloatRange(min=0.1), help="Time budget per file.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="mlwarden.toml.")
@click.option("--no-progress", is_flag=True, help="Do not show a progress bar.")
@click.option("--verbose", "-v", is_flag=True, help="List skipped files too.")
@click.option("--allow-empty", is_flag=True, help="Exit 0, not 3, when nothing was scanned.")
@handle_errors
def scan_command(
    paths: tuple[Path, ...],
    fmt: str | None,
    output: Path | None,
    fail_on: str | None,
    allow: tuple[str, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    jobs: int | None,
    follow_symlinks: bool | None,
    max_file_seconds: float | None,
    config_file: Path | None,
    no_progress: bool,
    verbose: bool,
    allow_empty: bool,
) -> None:
    """Scan model files and folders for code execution and tampering, without loading them.

    Formats are recognised from their bytes: pickle, joblib, PyTorch, NumPy, safetensors,
    ONNX, Keras, TensorFlow SavedModel, GGUF, and zip/tar/7z/compressed archives of them.
    """
    settings = load_settings(
        config_file,
        {
            "scan": {
                "fail_on": fail_on,
                "allow": allow,
                "include": include,
                "exclude": exclude,
                "jobs": jobs,
                "follow_symlinks": follow_symlinks,
                "max_file_seconds": max_file_seconds,
            },
            "report": {"format": fmt},
        },
    )
    fmt = settings.report.format
    err = stderr_console()
    with ScanProgress(err, enabled=not no_progress) as on_event:
        report = scan(paths, settings.scan.to_options(), on_event=on_event)
    if fmt == "text" and output is None:
        render_text(report, stdout_console(), verbose=verbose)
    elif fmt == "text":
        console = stdout_console()
        with console.capture() as captured:
            render_text(report, console, verbose=verbose)
        write_output(captured.get(), output)
    else:
        write_output(render(report, fmt), output)
    code = exit_code_for(report, settings.scan.fail_on)
    if code is ExitCode.NOTHING_SCANNED:
        if allow_empty:
            code = ExitCode.OK
        elif fmt == "text":
            err.print("nothing was scanned: no model file recognised under the given paths")
    sys.exit(code)
