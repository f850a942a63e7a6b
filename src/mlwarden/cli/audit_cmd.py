"""`mlwarden audit`: attack a model to measure its exposure (ML01 evasion).

Thin: parse flags -> settings -> load the model (path or URL) and the data (file or bundled
dataset) -> :func:`mlwarden.attacks.audit` -> render -> exit code (1 at ``--fail-on``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from mlwarden.cli._common import handle_errors, stderr_console, stdout_console, write_output
from mlwarden.cli.exit_codes import exit_code_for
from mlwarden.config import load_settings
from mlwarden.errors import UsageError

_SEVERITIES = click.Choice(["info", "low", "medium", "high", "critical"], case_sensitive=False)
_DEFENSES = click.Choice(["squeeze", "smooth", "threshold", "noise"])


def _floats(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise UsageError(f"--eps takes numbers separated by commas, not {text!r}") from None


def _shape(text: str | None, flag: str) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(v) for v in text.lower().replace(",", "x").split("x")]
    except ValueError:
        raise UsageError(f"{flag} looks like 8x8 or 1x8x8, not {text!r}") from None


def _load_data(spec: str, label: str | None) -> dict[str, Any]:
    from mlwarden import datasets

    if spec in datasets.DEMO_DATASETS and not Path(spec).exists():
        demo = datasets.demo_dataset(spec)
        return {
            "x": demo.X,
            "y": demo.y,
            "name": spec,
            "image": demo.image_shape,
            "clip": demo.clip,
        }
    table = datasets.load_table(spec, label)
    return {"x": table.X, "y": table.y, "name": spec, "image": None, "clip": None}


def _load_model(spec: str, data: dict[str, Any], opts: dict[str, Any]) -> Any:
    from mlwarden.models.errors import ModelLoadError
    from mlwarden.models.loading import load_model

    kw: dict[str, Any] = {k: v for k, v in opts.items() if v is not None}
    try:
        return load_model(spec, **kw)
    except ModelLoadError as exc:
        # NOTE: torch files do not record their input shape or class count; the data does.
        if "does not record" not in str(exc) or "input_shape" in kw:
            raise
    shape = data["image"] or data["x"].shape[1:]
    n_classes = int(data["y"].max()) + 1
    return load_model(spec, **kw, input_shape=tuple(shape), n_classes=n_classes)


@click.command("audit")
@click.argument("model")
@click.option(
    "--data",
    "data_spec",
    required=True,
    help="CSV/Parquet/NPZ file or a bundled dataset (digits, iris, ...).",
)
@click.option("--label", help="Label column of the data file.")
@click.option("--probe", "probes", multiple=True, help="Probe to run (default: evasion).")
@click.option("--eps", help="Perturbation sizes, e.g. 0.05,0.1,0.2.")
@click.option("--norm", type=click.Choice(["linf", "l2"]), help="Threat-model norm.")
@click.option("--budget", type=click.IntRange(min=2), help="Black-box queries per sample.")
@click.option(
    "--attack", type=click.Choice(["auto", "whitebox", "blackbox", "both"]), help="Attack mode."
)
@click.option("--steps", type=click.IntRange(min=1), help="PGD/APGD iterations.")
@click.option("--max-samples", type=click.IntRange(min=1), help="Inputs to attack.")
@click.option(
    "--defense", "defenses", multiple=True, type=_DEFENSES, help="Wrap the model in a defence."
)
@click.option("--image-shape", help="HxW or CxHxW of flat image inputs.")
@click.option("--input-shape", help="Input shape of a torch model file (e.g. 1x8x8).")
@click.option("--n-classes", type=click.IntRange(min=2), help="Classes of a torch model file.")
@click.option("--allow", multiple=True, help="Trust an unknown pickle global (MODULE.NAME).")
@click.option("--api-key-env", help="Environment variable holding the endpoint's API key.")
@click.option("--max-queries", type=click.IntRange(min=1), help="Query budget of a remote model.")
@click.option("--seed", type=int, help="Seed of sampling and attacks.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), help="Output.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--fail-on", type=_SEVERITIES, help="Exit 1 at or above this severity.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="mlwarden.toml.")
@click.option("--no-progress", is_flag=True, help="Do not show progress bars.")
@handle_errors
def audit_command(model: str, data_spec: str, **flags: Any) -> None:
    """Attack MODEL (a model file or an http(s):// endpoint) on labelled data and report
    robust accuracy vs perturbation size, black-box success within a query budget, and the
    naive vs adaptive numbers of defences."""
    from mlwarden.attacks.api import audit
    from mlwarden.cli.audit_console import AuditProgress, render_evasion
    from mlwarden.cli.console import render_text
    from mlwarden.models.threads import single_thread
    from mlwarden.report.render import render

    settings = load_settings(flags["config_file"], _overrides(flags))
    single_thread()
    data = _load_data(data_spec, flags["label"])
    api_key = os.environ.get(flags["api_key_env"]) if flags["api_key_env"] else None
    if flags["api_key_env"] and api_key is None:
        raise UsageError(f"environment variable {flags['api_key_env']} is not set")
    opts = {
        "allow": flags["allow"] or None,
        "input_shape": tuple(_shape(flags["input_shape"], "--input-shape") or ()) or None,
        "n_classes": flags["n_classes"],
        "api_key": api_key,
        "max_queries": flags["max_queries"],
    }
    clf = _load_model(model, data, opts)
    single_thread()  # again: loading may have brought torch or BLAS in
    fmt = settings.report.format
    with AuditProgress(stderr_console(), enabled=not flags["no_progress"]) as on_event:
        report = audit(
            clf,
            data["x"],
            data["y"],
            config=settings.audit,
            on_event=on_event,
            model_name=model,
            data_name=data["name"],
            image_shape=data["image"],
            clip=data["clip"],
        )
    if fmt == "text":
        console = stdout_console()
        with console.capture() as captured:
            render_evasion(report, console)
            render_text(report, console)
        write_output(captured.get().rstrip("\n"), flags["output"])
    else:
        write_output(render(report, fmt), flags["output"])
    sys.exit(exit_code_for(report, settings.audit.fail_on))


def _overrides(flags: dict[str, Any]) -> dict[str, Any]:
    return {
        "audit": {
            "fail_on": flags["fail_on"],
            "probes": flags["probes"],
            "max_samples": flags["max_samples"],
            "seed": flags["seed"],
            "evasion": {
                "eps": _floats(flags["eps"]),
                "norm": flags["norm"],
                "budget": flags["budget"],
                "attack": flags["attack"],
                "steps": flags["steps"],
                "defenses": flags["defenses"],
                "image_shape": _shape(flags["image_shape"], "--image-shape"),
            },
        },
        "report": {"format": flags["fmt"]},
    }
