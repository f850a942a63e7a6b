"""Data manifests: content digests, the diff of two manifests, signatures, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlwarden.data.provenance import (
    ManifestError,
    build_manifest,
    diff,
    manifest_from_dict,
    read_manifest,
    sign_manifest,
    verify_manifest,
)
from mlwarden.datasets import DatasetError, Table, load_table
from mlwarden.integrity.errors import SignatureError
from mlwarden.integrity.keys import generate_key


def _table(seed: int = 0, n: int = 60) -> Table:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    return Table(x, y, ("a", "b", "c", "d"), (0, 1))


def _write_csv(path: Path, table: Table) -> None:
    lines = ["a,b,c,d,label"]
    lines += [
        ",".join(f"{v:.6f}" for v in row) + f",{lab}"
        for row, lab in zip(table.X, table.y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_manifest_records_file_digest_schema_and_labels(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "train.csv"
    _write_csv(path, _table())
    table = load_table(path, "label")
    manifest = build_manifest(table, path=path, label="label")
    assert manifest.files[0]["digest"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest.rows == 60
    assert [c.name for c in manifest.columns] == ["a", "b", "c", "d"]
    assert sum(manifest.counts) == 60
    assert len(manifest.blocks) == 1
    assert len(manifest.row_digests) == 8 * 60


def test_manifest_round_trips_and_detects_hand_edits(tmp_path: Path) -> None:
    manifest = build_manifest(_table())
    out = tmp_path / "m.json"
    out.write_text(manifest.to_json())
    again = read_manifest(out)
    assert again.digest == manifest.digest
    doc = json.loads(out.read_text())
    doc["label"]["counts"][0] += 1
    with pytest.raises(ManifestError, match="does not match its digest"):
        manifest_from_dict(doc)
    with pytest.raises(ManifestError, match="not an mlwarden data manifest"):
        manifest_from_dict({"kind": "something else"})


def test_identical_data_diffs_to_nothing() -> None:
    change = diff(build_manifest(_table()), build_manifest(_table()))
    assert change.identical
    assert change.unchanged == 60
    assert change.label_shift == 0.0


def test_diff_tells_added_removed_relabelled_and_changed() -> None:
    old = _table()
    x, y = old.X.copy(), old.y.copy()
    y[[11, 12, 13]] = 1 - y[[11, 12, 13]]  # label flips
    x[10, 2] += 0.25  # changed in place
    extra = _table(seed=9, n=7)
    x = np.concatenate([x[5:], extra.X])  # 5 removed at the start, 7 added at the end
    y = np.concatenate([y[5:], extra.y])
    change = diff(build_manifest(old), build_manifest(Table(x, y, old.feature_names, (0, 1))))
    assert change.relabelled == 3
    assert change.changed == 1
    assert change.added == 7 and change.removed == 5
    assert change.unchanged == 60 - 5 - 3 - 1
    assert not change.identical


def test_label_shift_is_total_variation() -> None:
    old = _table()
    y = np.zeros_like(old.y)
    change = diff(build_manifest(old), build_manifest(Table(old.X, y, old.feature_names, (0, 1))))
    share_one = float(old.y.mean())
    assert change.label_shift == pytest.approx(share_one)
    assert change.shares["1"] == (pytest.approx(share_one), 0.0)


def test_signed_manifest_verifies_and_tampering_fails() -> None:
    key = generate_key()
    manifest = sign_manifest(build_manifest(_table()), key)
    verify_manifest(manifest, key.public)
    reread = manifest_from_dict(json.loads(manifest.to_json()))
    verify_manifest(reread, key.public)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_manifest(manifest, generate_key().public)
    from dataclasses import replace

    with pytest.raises(SignatureError, match="does not verify"):
        verify_manifest(replace(manifest, rows=manifest.rows + 1), key.public)
    with pytest.raises(SignatureError, match="not signed"):
        verify_manifest(build_manifest(_table()), key.public)


def test_string_and_sparse_integer_labels(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,kind\n1,2,cat\n3,4,dog\n5,6,cat\n")
    manifest = build_manifest(load_table(path, "kind"))
    assert manifest.classes == ("cat", "dog")
    assert manifest.counts == (2, 1)
    path.write_text("a,b,y\n1,2,3\n3,4,7\n5,6,7\n")
    manifest = build_manifest(load_table(path, "y"))
    assert manifest.classes == ("3", "7")
    assert manifest.counts == (1, 2)


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,label\n1,2,0\n3,4\n")
    with pytest.raises(DatasetError, match="2 cells, expected 3"):
        load_table(ragged, "label")
    missing = tmp_path / "nolabel.csv"
    missing.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="no column named 'label'"):
        load_table(missing, "label")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ManifestError, match="cannot read"):
        read_manifest(broken)
