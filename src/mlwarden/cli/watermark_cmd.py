"""`mlwarden watermark`: make a watermark key, and test whether a suspect model carries it (ML05).

Exit codes of ``verify``: 0 the watermark is present (ownership shown at ``--alpha``), 1 it
is not, 2 usage or error.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click

from mlwarden.cli._common import handle_errors, stdout_console, write_output
from mlwarden.cli.exit_codes import ExitCode
from mlwarden.errors import InputError


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise InputError(f"cannot read the key file {path}: {exc.strerror}") from None
    return key


@click.group("watermark")
def watermark_group() -> None:
    """Answer watermarks: prove that a model was trained on your model's answers."""


@watermark_group.command("keygen")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@handle_errors
def keygen_command(out: Path) -> None:
    """Write a new random watermark key (64 hex characters) to OUT."""
    if out.exists():
        raise InputError(f"{out} exists; refusing to overwrite a key", hint="Choose another path.")
    out.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    out.chmod(0o600)
    click.echo(f"wrote {out}")


@watermark_group.command("verify")
@click.argument("suspect_model")
@click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--data", "data_spec", required=True, help="The logged queries (CSV/Parquet/NPZ).")
@click.option("--label", help="Column of the data holding your model's original answers.")
@click.option("--owner", help="Your (unwatermarked) model: its answers replace --label's column.")
@click.option(
    "--rate", type=click.FloatRange(0, 0.5, min_open=True), default=0.02, show_default=True
)
@click.option(
    "--alpha", type=click.FloatRange(0, 1, min_open=True), default=0.01, show_default=True
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--allow", multiple=True, help="Trust an unknown pickle global (MODULE.NAME).")
@handle_errors
def verify_command(
    suspect_model: str, key_file: Path, data_spec: str, label: str | None, owner: str | None,
    rate: float, alpha: float, fmt: str, output: Path | None, allow: tuple[str, ...],
) -> None:  # fmt: skip
    """Test whether SUSPECT_MODEL (a file or an http(s):// endpoint) learned the watermark."""
    import numpy as np

    from mlwarden.datasets import load_table
    from mlwarden.defenses.watermark import verify_watermark
    from mlwarden.models.loading import load_model
    from mlwarden.models.threads import single_thread

    single_thread()
    table = load_table(data_spec, label)
    suspect = load_model(suspect_model, allow=allow)
    x = table.X.reshape((len(table.X), *suspect.input_shape))
    original = table.y if owner is None else load_model(owner, allow=allow).predict(x)
    test = verify_watermark(
        suspect, _read_key(key_file), x, np.asarray(original), rate=rate, alpha=alpha
    )
    if fmt == "json":
        write_output(json.dumps({"suspect": suspect_model, **test.to_dict()}, indent=2), output)
    else:
        verdict = "watermark PRESENT" if test.owned else "watermark not found"
        text = (
            f"{suspect_model}: {verdict} (Fisher p = {test.p_value:.2e}, alpha {alpha})\n"
            f"agrees with the watermark on {test.agreements}/{test.marked} marked queries vs "
            f"{test.decoy_agreements}/{test.decoys} decoys (binomial p = {test.binomial_p:.2e})"
        )
        console = stdout_console()
        with console.capture() as captured:
            console.print(text, markup=False)
        write_output(captured.get().rstrip("\n"), output)
    sys.exit(ExitCode.OK if test.owned else ExitCode.FINDINGS)
