"""`mlwarden hash|sign|verify|keygen|lock` end to end: exit codes, outputs, bad input, secrets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlwarden.cli.main import cli
from tests.integrity.conftest import KeyPair, make_model, write_pair

SCHEMA = Path(__file__).resolve().parents[2] / "src/mlwarden/report/schema/report.schema.json"


def run(*args: str | Path, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(
        cli, [str(a) for a in args], env=env, input=stdin, catch_exceptions=False
    )
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    pair = write_pair(tmp_path_factory.mktemp("keys"))
    pair.private.chmod(0o600)
    return pair


def signed(model: Path, keys: KeyPair, tmp_path: Path) -> Path:
    sig = tmp_path / "model.sig"
    result = run("sign", model, "--key", keys.private, "--out", sig)
    assert result.exit_code == 0, result.output
    return sig


def test_hash_text_is_sha256sum_compatible(model: Path, tmp_path: Path) -> None:
    result = run("hash", model)
    assert result.exit_code == 0
    assert "model digest: sha256:" in result.stderr
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(result.stdout)
    if shutil.which("sha256sum"):
        check = subprocess.run(
            ["sha256sum", "-c", "--strict", str(sums)],
            cwd=model,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_hash_json_state_and_reuse(model: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = run("hash", model, "--format", "json", "--state", state)
    doc = json.loads(first.stdout)
    assert doc["format"] == "mlwarden-manifest" and doc["digest"].startswith("sha256:")
    again = run("hash", model, "--state", state)
    assert f"unchanged since {state}" in again.stderr


def test_sign_and_verify(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    sig = signed(model, keys, tmp_path)
    result = run("verify", model, "--key", keys.public, "--sig", sig)
    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout and "ecdsa-p256" in result.stdout


def test_tampered_model_exits_1_and_lists_problems(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    sig = signed(model, keys, tmp_path)
    (model / "config.json").write_text("{}")
    (model / "extra.pkl").write_bytes(b"x")
    result = run("verify", model, "--key", keys.public, "--sig", sig)
    assert result.exit_code == 1
    assert "INT-VER-001" in result.stdout and "INT-VER-003" in result.stdout
    assert "config.json" in result.stdout and "extra.pkl" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_machine_readable_failure_and_success(
    model: Path, keys: KeyPair, tmp_path: Path, fmt: str
) -> None:
    import jsonschema

    sig = signed(model, keys, tmp_path)
    ok = run("verify", model, "--key", keys.public, "--sig", sig, "--format", fmt)
    assert ok.exit_code == 0
    (model / "config.json").write_text("{}")
    out = tmp_path / f"report.{fmt}"
    bad = run("verify", model, "--key", keys.public, "--sig", sig, "--format", fmt, "-o", out)
    assert bad.exit_code == 1
    doc = json.loads(out.read_text())
    if fmt == "json":
        jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
        assert [f["rule_id"] for f in doc["findings"]] == ["INT-VER-001"]
        assert json.loads(ok.stdout)["metrics"]["verified"] is True
    else:
        results = doc["runs"][0]["results"]
        assert [r["ruleId"] for r in results] == ["INT-VER-001"]


def test_bad_inputs_exit_2_or_1_without_traceback(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    sig = signed(model, keys, tmp_path)
    not_json = tmp_path / "bad.sig"
    not_json.write_text("this is not json")
    cases = [
        (("verify", model, "--key", keys.public, "--sig", not_json), 1, "INT-VER-005"),
        (("verify", model, "--key", keys.public, "--sig", tmp_path / "no.sig"), 2, "not found"),
        (("verify", tmp_path / "nope", "--key", keys.public, "--sig", sig), 2, "cannot read"),
        (("verify", model, "--key", keys.private, "--sig", sig), 2, "private key"),
        (("verify", model, "--sig", sig), 2, "nothing to verify"),
        (("sign", model, "--key", keys.public, "--out", tmp_path / "x.sig"), 2, "private key"),
        (("sign", model), 2, "no private key"),
        (("hash", model, "--max-files", "3"), 2, "more than 3 files"),
        (
            ("sign", model, "--key", keys.private, "--out", tmp_path / "no" / "dir" / "x.sig"),
            2,
            "cannot write",
        ),
    ]
    for args, code, text in cases:
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        assert text in result.output, (args, result.output)


def test_signature_over_a_different_model_exits_1(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    sig = signed(model, keys, tmp_path)
    other = make_model(tmp_path / "other")
    (other / "model.safetensors").write_bytes(b"different weights")
    result = run("verify", other, "--key", keys.public, "--sig", sig)
    assert result.exit_code == 1 and "model.safetensors" in result.stdout


def test_unreadable_directory(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.scandir

    def deny(path: object) -> object:
        if str(path).endswith("tokenizer"):
            raise PermissionError(13, "Permission denied")
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", deny)
    result = run("hash", model)
    assert result.exit_code == 2 and "Permission denied" in result.output


def test_many_files_and_odd_names(tmp_path: Path, keys: KeyPair) -> None:
    model = tmp_path / "m"
    model.mkdir()
    for i in range(2000):
        (model / f"\u00e9l\u00e9ment {i} [x].bin").write_bytes(str(i).encode())
    sig = signed(model, keys, tmp_path)
    assert run("verify", model, "--key", keys.public, "--sig", sig).exit_code == 0
    (model / "\u00e9l\u00e9ment 7 [x].bin").write_text("changed")
    result = run("verify", model, "--key", keys.public, "--sig", sig)
    assert result.exit_code == 1 and "\u00e9l\u00e9ment 7 [x].bin" in result.stdout


def test_encrypted_key_passphrase_from_env_never_printed(model: Path, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    env = {"KEYPASS": "s3cr3t-passphrase"}
    made = run("keygen", "--out", key, "--passphrase-env", "KEYPASS", env=env)
    assert made.exit_code == 0 and "encrypted" in made.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED" in key.read_bytes()
    sig = tmp_path / "m.sig"
    ok = run("sign", model, "--key", key, "--out", sig, "--passphrase-env", "KEYPASS", env=env)
    assert ok.exit_code == 0, ok.output
    wrong = run(
        "sign",
        model,
        "--key",
        key,
        "--out",
        sig,
        "--passphrase-env",
        "KEYPASS",
        env={"KEYPASS": "wrong-guess-123"},
    )
    assert wrong.exit_code == 2 and "wrong-guess-123" not in wrong.output
    unset = run("sign", model, "--key", key, "--out", sig, "--passphrase-env", "NOPE_VAR")
    assert unset.exit_code == 2 and "NOPE_VAR" in unset.output
    prompted = run(
        "sign",
        model,
        "--key",
        key,
        "--out",
        sig,
        "--passphrase-prompt",
        stdin="s3cr3t-passphrase\n",
    )
    assert prompted.exit_code == 0 and "s3cr3t" not in prompted.output
    from_config = run(
        "sign",
        model,
        "--key",
        key,
        "--out",
        sig,
        env={"MLWARDEN_INTEGRITY__PASSPHRASE": "s3cr3t-passphrase"},
    )
    assert from_config.exit_code == 0
    shown = run("config", "show", env={"MLWARDEN_INTEGRITY__PASSPHRASE": "s3cr3t-passphrase"})
    assert "s3cr3t" not in shown.output and "**********" in shown.output
    assert run("verify", model, "--key", tmp_path / "k.pub.pem", "--sig", sig).exit_code == 0


def test_keygen_ed25519_note_and_refuses_overwrite(model: Path, tmp_path: Path) -> None:
    key = tmp_path / "ed.pem"
    assert run("keygen", "--type", "ed25519", "--out", key).exit_code == 0
    assert run("keygen", "--out", key).exit_code == 2
    result = run("sign", model, "--key", key, "--out", tmp_path / "ed.sig")
    assert "mlwarden extension" in result.stderr
    assert (
        run(
            "verify", model, "--key", tmp_path / "ed.pub.pem", "--sig", tmp_path / "ed.sig"
        ).exit_code
        == 0
    )


def test_private_key_readable_by_others_is_warned(
    model: Path, keys: KeyPair, tmp_path: Path
) -> None:
    loose = tmp_path / "loose.pem"
    loose.write_bytes(keys.private.read_bytes())
    loose.chmod(0o644)
    result = run("sign", model, "--key", loose, "--out", tmp_path / "x.sig")
    assert result.exit_code == 0 and "readable by other users" in result.stderr


def test_lock_add_check_list_remove(model: Path, keys: KeyPair, tmp_path: Path) -> None:
    lock = tmp_path / "mlwarden.lock"
    added = run("lock", "add", model, "--lock", lock, "--source", "hf://org/m", "--revision", "r1")
    assert added.exit_code == 0 and "approved 'model'" in added.stderr
    assert run("lock", "check", model, "--lock", lock).exit_code == 0
    listed = run("lock", "list", "--lock", lock, "--format", "json")
    assert json.loads(listed.stdout)[0]["revision"] == "r1"
    sig = signed(model, keys, tmp_path)
    both = run("verify", model, "--key", keys.public, "--sig", sig, "--lock", lock)
    assert both.exit_code == 0 and "lockfile entry 'model'" in both.stdout
    (model / "config.json").write_text('{"hidden": 1024}')
    failed = run("lock", "check", model, "--lock", lock)
    assert failed.exit_code == 1 and "INT-LCK-001" in failed.stdout
    assert run("verify", model, "--lock", lock).exit_code == 1
    assert run("lock", "add", model, "--lock", lock).exit_code == 2  # digest differs
    assert run("lock", "add", model, "--lock", lock, "--replace").exit_code == 0
    assert run("lock", "check", model, "--lock", lock).exit_code == 0
    assert run("lock", "check", model, "--lock", lock, "--name", "other").exit_code == 1
    digest = "sha256:" + "cd" * 32
    assert run("lock", "add", "--name", "ext", "--digest", digest, "--lock", lock).exit_code == 0
    assert (
        run("lock", "add", "--name", "bad", "--digest", "sha256:xyz", "--lock", lock).exit_code == 2
    )
    assert run("lock", "remove", "ext", "--lock", lock).exit_code == 0
    assert run("lock", "remove", "ext", "--lock", lock).exit_code == 2
    broken = tmp_path / "broken.lock"
    broken.write_text("version = 1\n[models.x]\ndigest = 3\n")
    assert run("lock", "check", model, "--lock", broken).exit_code == 2
