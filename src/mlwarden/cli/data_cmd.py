"""`mlwarden data check`: the training-data guard (ML02 data poisoning).

Thin: parse flags -> settings -> :func:`mlwarden.data.check_data` -> render -> write the
manifest -> exit code (1 when a finding reaches ``--fail-on``: suspected poison, a failed
retrain gate, relabelled rows, a schema change; 2 on bad input).
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
    stdout_console,
    write_output,
)
from mlwarden.cli.exit_codes import ExitCode, exit_code_for
from mlwarden.config import load_settings

_SEVERITIES = click.Choice(["info", "low", "medium", "high", "critical"], case_sensitive=False)
_P = click.Path(path_type=Path)


@click.group("data")
def data_group() -> None:
    """Training-data guard: provenance manifests, data checks, poison detection (ML02)."""


@data_group.command("check")
@click.argument("train", type=_P)
@click.option("--label", help="Label column (name, or index for CSV; NPZ: the key).")
@click.option("--baseline", type=_P, help="Manifest of trusted earlier data (a profile).")
@click.option("--baseline-key", type=_P, help="Public key the baseline must be signed with.")
@click.option("--model", "model_path", help="Model whose representations feed poison detection.")
@click.option("--input-shape", help="Input shape of a torch model file (e.g. 1x8x8).")
@click.option("--manifest-out", type=_P, help="Write the data's manifest (JSON) here.")
@click.option("--sign-key", type=_P, help="Sign the manifest with this PEM private key.")
@click.option("--passphrase-env", help="Environment variable holding the key's passphrase.")
@click.option("--no-gate", is_flag=True, help="Skip the retrain gate.")
@click.option("--margin", type=click.FloatRange(0, 1), help="Gate: allowed accuracy drop.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif", "html"]), help="Output."
)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--fail-on", type=_SEVERITIES, help="Exit 1 at or above this severity.")
@click.option("--config", "config_file", type=_P, help="mlwarden.toml.")
@handle_errors
def check_command(train: Path, **flags: Any) -> None:
    """Check the training set TRAIN (CSV, Parquet or NPZ): schema, ranges and labels against
    a baseline manifest, duplicates, suspected poison (per class, then per sample), and a
    cross-validated retrain gate; optionally write a signed manifest of the data."""
    from mlwarden.cli.console import render_text
    from mlwarden.data.guard import check_data
    from mlwarden.models.threads import single_thread
    from mlwarden.report.render import render

    settings = load_settings(flags["config_file"], _overrides(flags))
    single_thread()
    label = _label(flags["label"])
    model = _model(flags["model_path"], flags["input_shape"], train, label)
    result = check_data(
        train,
        label=label,
        baseline=flags["baseline"],
        model=model,
        settings=settings.data,
        sign_key=signing_key(flags["sign_key"], flags["passphrase_env"]),
        verify_key=public_key(flags["baseline_key"]),
    )
    if flags["manifest_out"] is not None:
        write_output(result.manifest.to_json(), flags["manifest_out"])
    fmt = settings.report.format
    if fmt == "text":
        console = stdout_console()
        with console.capture() as captured:
            render_text(result.report, console)
            console.print(_summary(result.report.evidence["data"]), highlight=False)
        write_output(captured.get().rstrip("\n"), flags["output"])
    else:
        write_output(render(result.report, fmt), flags["output"])
    code = exit_code_for(result.report, settings.data.fail_on)
    sys.exit(ExitCode.OK if code is ExitCode.NOTHING_SCANNED else code)


def _summary(evidence: dict[str, Any]) -> str:
    """The numbers behind the verdict, for the text report."""
    poison = evidence["poison"]
    named = ", ".join(str(c) for c in poison["suspected_classes"]) or "none"
    lines = [
        f"poison: suspected class(es) {named}; {poison['flagged']} sample(s) flagged "
        f"(representations: {poison['source']}); IsolationForest baseline: "
        f"{poison['isolation_forest_outliers']} outlier(s)"
    ]
    gate = evidence.get("gate")
    if gate:
        agree = gate["flagged_label_agreement"]
        lines.append(
            f"gate: accuracy {gate['score_with_flagged']:.3f} with the data, "
            f"{gate['score_without_flagged']:.3f} without the flagged rows, baseline "
            f"{gate['baseline']:.3f} ({gate['baseline_source']}); drop {gate['drop']:.3f} vs "
            f"margin {gate['margin']:.3f}: {'passed' if gate['passed'] else 'FAILED'}"
            + ("" if agree is None else f"; flagged labels agree with a clean model {agree:.0%}")
        )
    manifest = evidence["manifest"]
    lines.append(
        f"manifest: {manifest['digest']} ({manifest['rows']} rows"
        + (", signed)" if manifest["signed"] else ")")
    )
    return "\n".join(lines)


def _overrides(flags: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "fail_on": flags["fail_on"],
            "gate": False if flags["no_gate"] else None,
            "gate_margin": flags["margin"],
        },
        "report": {"format": flags["fmt"]},
    }


def _label(text: str | None) -> str | int | None:
    if text is not None and text.lstrip("-").isdigit():
        return int(text)
    return text


def _model(spec: str | None, shape: str | None, train: Path, label: str | int | None) -> Any:
    if spec is None:
        return None
    from mlwarden.datasets import load_table
    from mlwarden.models.errors import ModelLoadError
    from mlwarden.models.loading import load_model

    try:
        return load_model(spec)
    except ModelLoadError as exc:
        # NOTE: torch files do not record their input shape or class count.
        if "does not record" not in str(exc) and "input_shape" not in str(exc):
            raise
    table = load_table(train, label)
    dims = tuple(int(v) for v in shape.lower().split("x")) if shape else table.X.shape[1:]
    return load_model(spec, input_shape=dims, n_classes=int(table.y.max()) + 1)
