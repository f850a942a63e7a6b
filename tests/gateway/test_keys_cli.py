"""`mlwarden keys create|list|revoke`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mlwarden.cli.main import cli
from mlwarden.gateway.auth import KeyStore


def test_create_list_revoke(tmp_path: Path) -> None:
    keys = str(tmp_path / "keys.json")
    runner = CliRunner()
    made = runner.invoke(
        cli,
        [
            "keys",
            "create",
            "--name",
            "ci",
            "--scope",
            "predict",
            "--rate",
            "10/minute",
            "--keys-file",
            keys,
        ],
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert token.startswith("mlw_")
    listed = runner.invoke(cli, ["keys", "list", "--format", "json", "--keys-file", keys])
    (row,) = json.loads(listed.stdout)
    assert row["name"] == "ci" and row["rate_limit"] == "10/minute" and token not in listed.output
    assert KeyStore.open(keys).authenticate(token, "predict").id == row["id"]
    assert runner.invoke(cli, ["keys", "revoke", row["id"], "--keys-file", keys]).exit_code == 0
    text = runner.invoke(cli, ["keys", "list", "--keys-file", keys]).stdout
    assert "revoked" in text
    assert runner.invoke(cli, ["keys", "revoke", "nope", "--keys-file", keys]).exit_code == 2
    bad = runner.invoke(
        cli, ["keys", "create", "--name", "x", "--rate", "fast", "--keys-file", keys]
    )
    assert bad.exit_code == 2 and "not a rate" in bad.output


def test_serve_refuses_bad_policies_and_models_without_a_traceback(
    tmp_path: Path, served: object
) -> None:
    model = str(served.model)  # type: ignore[attr-defined]
    bad = tmp_path / "bad.toml"
    bad.write_text('[gateway.rate_limit]\nper_key = "fast"\n')
    runner = CliRunner()
    refused = runner.invoke(cli, ["serve", model, "--policy", str(bad)])
    assert refused.exit_code == 2 and "per_key" in refused.output
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("hello")
    plain = tmp_path / "plain.toml"
    plain.write_text("[gateway]\n")
    unloadable = runner.invoke(cli, ["serve", str(not_a_model), "--policy", str(plain)])
    assert unloadable.exit_code == 2 and "unsupported model format" in unloadable.output
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(f'[gateway]\nreference = "{tmp_path / "missing.npy"}"\n')
    assert runner.invoke(cli, ["serve", model, "--policy", str(wrong)]).exit_code == 2
