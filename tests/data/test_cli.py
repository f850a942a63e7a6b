"""`mlwarden data check`: exit codes, manifest out, signing, baseline comparison, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from mlwarden.cli.main import cli
from mlwarden.data.poisoning import flip_labels, plant_feature_trigger
from mlwarden.data.provenance import read_manifest, verify_manifest
from mlwarden.datasets import demo_dataset
from mlwarden.integrity.keys import generate_key, load_public_key


def _csv(path: Path, x: np.ndarray, y: np.ndarray) -> Path:  # type: ignore[type-arg]
    header = ",".join(f"f{i}" for i in range(x.shape[1])) + ",diagnosis"
    rows = [",".join(f"{v:.6g}" for v in row) + f",{lab}" for row, lab in zip(x, y, strict=True)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["data", "check", *args])
    return result.exit_code, result.output


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_clean_data_exits_0_and_writes_a_signed_manifest(tmp_path: Path) -> None:
    data = demo_dataset("breast_cancer")
    train = _csv(tmp_path / "train.csv", data.X, data.y)
    key = generate_key()
    (tmp_path / "k.pem").write_bytes(key.private_pem())
    (tmp_path / "k.pub.pem").write_bytes(key.public.pem)
    code, out = _run(
        str(train), "--label", "diagnosis", "--manifest-out", str(tmp_path / "m.json"),
        "--sign-key", str(tmp_path / "k.pem"), "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    report = json.loads(out)
    assert report["evidence"]["data"]["poison"]["suspected_classes"] == []
    assert report["evidence"]["data"]["gate"]["passed"] is True
    manifest = read_manifest(tmp_path / "m.json")
    verify_manifest(manifest, load_public_key(tmp_path / "k.pub.pem"))
    assert manifest.score is not None and manifest.score["value"] > 0.9


def test_poisoned_data_against_a_baseline_exits_1(tmp_path: Path) -> None:
    data = demo_dataset("breast_cancer")
    base = _csv(tmp_path / "base.csv", data.X, data.y)
    assert (
        _run(str(base), "--label", "diagnosis", "--manifest-out", str(tmp_path / "m.json"))[0] == 0
    )
    flipped = flip_labels(data.X, data.y, fraction=0.05, target=0, seed=0)
    poisoned = plant_feature_trigger(
        flipped.x, flipped.y, fraction=0.05, features=(3,), value=2.0, seed=1
    )
    train = _csv(tmp_path / "train.csv", poisoned.x, poisoned.y)
    code, out = _run(
        str(train),
        "--label",
        "diagnosis",
        "--baseline",
        str(tmp_path / "m.json"),
        "--format",
        "json",
    )
    assert code == 1, out
    rules = {f["rule_id"] for f in json.loads(out)["findings"]}
    assert {"DATA-POI-001", "DATA-PRV-001", "DATA-RNG-001"} <= rules
    diff = json.loads(out)["evidence"]["data"]["diff"]
    assert diff["relabelled"] == len(flipped.indices)
    assert diff["changed"] == len(poisoned.indices)


def test_a_baseline_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    data = demo_dataset("iris")
    train = _csv(tmp_path / "train.csv", data.X, data.y)
    key, other = generate_key(), generate_key()
    (tmp_path / "k.pem").write_bytes(key.private_pem())
    (tmp_path / "other.pub.pem").write_bytes(other.public.pem)
    _run(
        str(train),
        "--label",
        "diagnosis",
        "--manifest-out",
        str(tmp_path / "m.json"),
        "--sign-key",
        str(tmp_path / "k.pem"),
        "--no-gate",
    )
    code, out = _run(
        str(train),
        "--label",
        "diagnosis",
        "--baseline",
        str(tmp_path / "m.json"),
        "--baseline-key",
        str(tmp_path / "other.pub.pem"),
    )
    assert code == 2
    assert "does not verify" in _flat(out)


def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,label\n1,2,0\n3,4\n")
    code, out = _run(str(ragged), "--label", "label")
    assert code == 2 and "2 cells, expected 3" in _flat(out) and "Traceback" not in out
    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n1,2,0\n3,4,1\n")
    code, out = _run(str(good), "--label", "nope")
    assert code == 2 and "no column named 'nope'" in _flat(out)
    code, out = _run(str(tmp_path / "missing.csv"), "--label", "label")
    assert code == 2 and "no such data file" in _flat(out)
