"""`mlwarden audit`: attack a model to measure its exposure (evasion, privacy, theft, backdoors).

Thin: parse flags -> settings -> load the model (path or URL) and the data (file or bundled
dataset) -> :func:`mlwarden.attacks.audit` for the probes on one labelled set and
:func:`mlwarden.attacks.privacy_api.audit_privacy` for those that also need the training
records -> one merged report -> render -> exit code (1 at ``--fail-on``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from mlwarden.cli._common import handle_errors, stderr_console, stdout_console, write_output
from mlwarden.cli.exit_codes import exit_code_for
from mlwarden.config import load_settings
from mlwarden.errors import UsageError

_SEVERITIES = click.Choice(["info", "low", "medium", "high", "critical"], case_sensitive=False)
_DEFENSES = click.Choice(["squeeze", "smooth", "threshold", "noise"])
_PRIVACY_PROBES = ("membership", "inversion", "extraction")


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


def _probe_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--probe a,b --probe c`` -> ``("a", "b", "c")`` (order kept, duplicates dropped)."""
    ids = (p.strip() for v in values for p in v.split(","))
    return tuple(dict.fromkeys(p for p in ids if p))


def _model_spec(model: str | None, endpoint: str | None) -> str:
    if model and endpoint:
        raise UsageError("give either MODEL or --endpoint, not both")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint takes an http(s):// URL, not {endpoint!r}")
    spec = model or endpoint
    if not spec:
        raise UsageError("no model to audit", hint="Pass a model file or --endpoint URL.")
    return spec


@click.command("audit")
@click.argument("model", required=False)
@click.option("--endpoint", help="Audit a live http(s):// endpoint instead of a MODEL file.")
@click.option(
    "--data",
    "--test",
    "data_spec",
    help="Held-out labelled data: CSV/Parquet/NPZ file or a bundled dataset (digits, iris, ...).",
)
@click.option("--train", "train_spec", help="The model's training data (privacy probes).")
@click.option("--population", "population_spec", help="More data of the same distribution.")
@click.option("--label", help="Label column of the data files.")
@click.option(
    "--probe",
    "probes",
    multiple=True,
    help="Probes to run, e.g. evasion or membership,inversion,extraction (default: evasion; "
    "with --train: membership,inversion,extraction).",
)
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
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif", "html"]), help="Output."
)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--fail-on", type=_SEVERITIES, help="Exit 1 at or above this severity.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="mlwarden.toml.")
@click.option("--no-progress", is_flag=True, help="Do not show progress bars.")
@handle_errors
def audit_command(model: str | None, data_spec: str | None, **flags: Any) -> None:
    """Attack MODEL (a model file or an http(s):// endpoint) on labelled data and report
    robust accuracy vs perturbation size, black-box success within a query budget, and the
    naive vs adaptive numbers of defences; with --train, how much the model leaks about its
    training records (membership, inversion) and how cheaply it can be copied (extraction)."""
    from mlwarden.cli.audit_console import AuditProgress, render_evasion
    from mlwarden.cli.console import render_text
    from mlwarden.models.threads import single_thread
    from mlwarden.report.render import render

    model = _model_spec(model, flags["endpoint"])
    flags["probes"] = _probe_ids(flags["probes"])
    if flags["train_spec"] and not flags["probes"]:
        flags["probes"] = _PRIVACY_PROBES
    settings = load_settings(flags["config_file"], _overrides(flags))
    probes = list(settings.audit.probes)
    _check_data(probes, data_spec, flags["train_spec"])
    single_thread()
    data = _load_data(data_spec, flags["label"])  # type: ignore[arg-type]
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
        report = _run(clf, model, data, probes, settings.audit, flags, on_event)
    if fmt == "text":
        console = stdout_console()
        with console.capture() as captured:
            render_evasion(report, console)
            render_text(report, console)
        write_output(captured.get().rstrip("\n"), flags["output"])
    else:
        write_output(render(report, fmt), flags["output"])
    sys.exit(exit_code_for(report, settings.audit.fail_on))


def _check_data(probes: list[str], data_spec: str | None, train_spec: str | None) -> None:
    if not data_spec:
        raise UsageError(
            "no data to attack the model on",
            hint="Pass --data/--test HELD_OUT (a data file or a bundled dataset).",
        )
    privacy = [p for p in probes if p in _PRIVACY_PROBES]
    if privacy and not train_spec:
        raise UsageError(
            f"the {', '.join(privacy)} probe{'s' if len(privacy) > 1 else ''} need the model's "
            "training records",
            hint="Pass --train TRAIN (members) beside --test HELD_OUT (non-members).",
        )


def _run(
    clf: Any,
    model: str,
    data: dict[str, Any],
    probes: list[str],
    settings: Any,
    flags: dict[str, Any],
    on_event: Any,
) -> Any:
    """One report: :func:`audit` for single-set probes, ``audit_privacy`` for the others."""
    from mlwarden.attacks.api import audit
    from mlwarden.attacks.privacy_api import audit_privacy
    from mlwarden.findings import merge_reports

    common = {
        "on_event": on_event,
        "model_name": model,
        "data_name": data["name"],
        "image_shape": data["image"],
        "clip": data["clip"],
    }
    privacy = [p for p in probes if p in _PRIVACY_PROBES]
    others = [p for p in probes if p not in _PRIVACY_PROBES]
    reports = []
    if others:
        reports.append(audit(clf, data["x"], data["y"], others, settings, **common))
    if privacy:
        train = _load_data(flags["train_spec"], flags["label"])
        pop = (
            _load_data(flags["population_spec"], flags["label"])
            if flags["population_spec"]
            else None
        )
        population = (pop["x"], pop["y"]) if pop else None
        reports.append(
            audit_privacy(
                clf,
                (train["x"], train["y"]),
                (data["x"], data["y"]),
                population,
                privacy,
                settings,
                **common,
            )
        )
    if len(reports) == 1:
        return reports[0]
    merged = merge_reports("audit", reports)
    return replace(merged, scanned=tuple(dict.fromkeys(merged.scanned)))


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
