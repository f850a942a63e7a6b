"""`mlwarden drift`: training-serving skew and data drift tests (ML08).

Thin: parse flags -> settings -> :func:`mlwarden.monitor.drift.detect_drift` -> render ->
exit code (1 on drift at or above ``--fail-on``, 2 on bad input). With ``--save-profile`` the
reference's profile is written (and signed with ``--sign-key``) for later runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mlwarden.cli._common import (
    handle_errors,
    public_key,
    signing_key,
    stderr_console,
    stdout_console,
    write_output,
)
from mlwarden.cli.exit_codes import ExitCode, exit_code_for
from mlwarden.config import load_settings
from mlwarden.errors import UsageError
from mlwarden.integrity.errors import VerificationError

_SEVERITIES = click.Choice(["info", "low", "medium", "high", "critical"], case_sensitive=False)
_P = click.Path(path_type=Path)


@click.command("drift")
@click.argument("reference", type=_P)
@click.argument("current", type=_P, required=False)
@click.option("--columns", help="Comma-separated columns to test (default: all in common).")
@click.option("--exclude", multiple=True, help="A column not to test (ids, timestamps).")
@click.option("--save-profile", type=_P, help="Write the reference's drift profile (JSON).")
@click.option("--sign-key", type=_P, help="Sign the saved profile with this PEM private key.")
@click.option("--passphrase-env", help="Environment variable holding the key's passphrase.")
@click.option("--profile-key", type=_P, help="Public key a profile REFERENCE must be signed by.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--no-domain", is_flag=True, help="Skip the multivariate domain classifier.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif", "html"]), help="Output."
)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--fail-on", type=_SEVERITIES, help="Exit 1 at or above this severity.")
@click.option("--config", "config_file", type=_P, help="mlwarden.toml.")
@click.option("--no-progress", is_flag=True, help="Do not show progress bars.")
@handle_errors
def drift_command(reference: Path, current: Path | None, **flags: Any) -> None:
    """Test CURRENT data against REFERENCE data (CSV, Parquet or NPZ) or a saved profile
    (.json), column by column (KS / chi-square with Holm's correction and effect-size floors:
    Wasserstein, PSI, Jensen-Shannon) and as a whole (domain classifier)."""
    from mlwarden.models.threads import single_thread
    from mlwarden.monitor.frame import load_frame

    settings = load_settings(flags["config_file"], _overrides(flags))
    single_thread()
    if current is None and flags["save_profile"] is None:
        raise UsageError("give CURRENT data to test, or --save-profile to write a profile")
    try:
        ref_data = _reference(reference, flags, settings.drift.bins)
    except VerificationError as exc:
        stderr_console().print(exc.diagnostics(), markup=False)
        sys.exit(ExitCode.FINDINGS)
    if current is None:
        stderr_console().print(f"wrote {flags['save_profile']}")
        sys.exit(ExitCode.OK)
    report = _run(ref_data, load_frame(current), flags, settings, (str(reference), str(current)))
    _render(report, settings.report.format, flags["output"])
    code = exit_code_for(report, settings.drift.fail_on)
    sys.exit(ExitCode.OK if code is ExitCode.NOTHING_SCANNED else code)


def _reference(reference: Path, flags: dict[str, Any], bins: int) -> Any:
    """The reference frame, or its verified profile; saves the profile when asked."""
    from mlwarden.monitor.frame import load_frame
    from mlwarden.monitor.sketch import DriftProfile, build_profile

    if reference.suffix.lower() == ".json":
        profile = DriftProfile.load(reference)
        if flags["profile_key"] is not None:
            profile.verify(public_key(flags["profile_key"]))
        return profile
    if flags["profile_key"] is not None:
        raise UsageError("--profile-key checks a saved profile; REFERENCE is data")
    frame = load_frame(reference)
    if flags["save_profile"] is not None:
        keep = [c.strip() for c in flags["columns"].split(",")] if flags["columns"] else None
        # Only the columns tested go into the profile (category labels of others never do).
        chosen = frame.select(keep, [c for c in flags["exclude"] if c in frame.names])
        profile = build_profile(chosen, bins=bins)
        key = signing_key(flags["sign_key"], flags["passphrase_env"])
        if key is not None:
            profile = profile.sign(key)
        profile.save(flags["save_profile"])
    return frame


def _run(
    reference: Any, current: Any, flags: dict[str, Any], settings: Any, files: tuple[str, str]
) -> Any:
    from mlwarden.attacks.registry import AuditEvent
    from mlwarden.cli.audit_console import AuditProgress
    from mlwarden.monitor.drift import detect_drift
    from mlwarden.monitor.drift_report import drift_report

    columns = [c.strip() for c in flags["columns"].split(",")] if flags["columns"] else None
    with AuditProgress(stderr_console(), not flags["no_progress"]) as on_event:
        result = detect_drift(
            reference,
            current,
            columns=columns,
            exclude=list(flags["exclude"]),
            options=settings.drift.options(),
            progress=lambda stage, done, total: on_event(AuditEvent("drift", stage, done, total)),
        )
    return drift_report(result, files[1], scanned=files)


def _render(report: Any, fmt: str, output: Path | None) -> None:
    from mlwarden.cli.console import render_text
    from mlwarden.report.render import render

    if fmt != "text":
        write_output(render(report, fmt), output)
        return
    console = stdout_console()
    with console.capture() as captured:
        render_text(report, console)
        console.print(_summary(report.evidence["drift"]), highlight=False)
    write_output(captured.get().rstrip("\n"), output)


def _summary(block: dict[str, Any]) -> str:
    drifted = ", ".join(block["drifted_columns"]) or "none"
    lines = [
        f"drift: {block['columns_tested']} column(s) tested on {block['reference_rows']} "
        f"reference and {block['current_rows']} current rows; drifted: {drifted}"
    ]
    multi = block["multivariate"]
    if multi["ran"]:
        lines.append(
            f"multivariate: domain classifier AUC {multi['auc']:.3f} "
            f"({'drift' if multi['drifted'] else 'no drift'})"
        )
    else:
        lines.append(f"multivariate: not run ({multi['note']})")
    return "\n".join(lines)


def _overrides(flags: dict[str, Any]) -> dict[str, Any]:
    return {
        "drift": {
            "fail_on": flags["fail_on"],
            "alpha": flags["alpha"],
            "domain_classifier": False if flags["no_domain"] else None,
        },
        "report": {"format": flags["fmt"]},
    }
