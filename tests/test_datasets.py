"""Data files to arrays (CSV, Parquet, NPZ) with clear errors, and the bundled demo datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mlwarden.datasets import DEMO_DATASETS, DatasetError, demo_dataset, load_table
from mlwarden.errors import MlwardenError


def _csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_header_and_named_label(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b,species\n1,2.5,cat\n3,4,dog\n\n5,6,cat\n")
    X, y, names = load_table(path, "species")
    assert X.dtype == np.float32 and X.tolist() == [[1, 2.5], [3, 4], [5, 6]]
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 0]
    assert names == ("a", "b")
    assert load_table(path, "species").classes == ("cat", "dog")


def test_integer_labels_are_kept_and_found_by_index_or_name(tmp_path: Path) -> None:
    path = _csv(tmp_path, "target,x\n3,0.5\n7,0.25\n3.0,1\n")
    by_name = load_table(path)  # "target" is recognised
    by_index = load_table(path, 0)
    assert by_name.y.tolist() == by_index.y.tolist() == [3, 7, 3]
    assert by_name.classes == (3, 7)
    headerless = _csv(tmp_path, "0.5,1\n0.25,0\n", "raw.csv")
    _X, y, names = load_table(headerless, -1)
    assert y.tolist() == [1, 0] and names == ("x0",)


@pytest.mark.parametrize(
    ("text", "label", "match"),
    [
        ("a,b\n1,2\n", "label", "no column named 'label'"),
        ("a,b\n1,2\n", None, "which column holds the labels"),
        ("a,b\n1,2\n", 5, "out of range"),
        ("a,label\n1,0\nx,1\n", "label", r"data.csv:3: column 'a' holds 'x'"),
        ("a,label\n1,0\n2\n", "label", r"data.csv:3: 1 cells, expected 2"),
        ("a,label\n1,0\nnan,1\n", "label", "missing or not finite"),
        ("a,b,label\n1,2,0\n1,,1\n", "label", "column 'b' is empty"),
        ("a,label\n1,0\n2,\n", "label", "no label"),
        ("", "label", "is empty"),
        ("a,label\n", "label", "no rows"),
        ("1,2\n3,4\n", "label", "no column named"),
    ],
)
def test_bad_csv_inputs_say_what_is_wrong(
    tmp_path: Path, text: str, label: str | int | None, match: str
) -> None:
    with pytest.raises(DatasetError, match=match) as err:
        load_table(_csv(tmp_path, text), label)
    assert isinstance(err.value, MlwardenError) and err.value.hint


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such data file"):
        load_table(tmp_path / "absent.csv", "y")
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    with pytest.raises(DatasetError, match="unknown data format"):
        load_table(tmp_path / "data.xlsx", "y")


def test_npz_keys(tmp_path: Path) -> None:
    images = np.arange(24, dtype=np.float64).reshape(3, 2, 4)
    np.savez(tmp_path / "a.npz", X=images, y=np.array([0, 1, 0]))
    np.savez(tmp_path / "b.npz", x=images, y=np.array(["b", "a", "b"]))
    np.savez(tmp_path / "c.npz", feats=images, labels=np.array([2, 2, 1]))
    a = load_table(tmp_path / "a.npz")
    assert a.X.shape == (3, 2, 4) and a.X.dtype == np.float32 and a.y.tolist() == [0, 1, 0]
    assert load_table(tmp_path / "b.npz").y.tolist() == [1, 0, 1]
    assert load_table(tmp_path / "c.npz", "labels", features="feats").y.tolist() == [2, 2, 1]
    with pytest.raises(DatasetError, match=r"it has \['feats', 'labels'\]"):
        load_table(tmp_path / "c.npz")


def test_npz_object_arrays_are_not_unpickled(tmp_path: Path) -> None:
    np.savez(tmp_path / "o.npz", X=np.array([[1], [None]], dtype=object), y=np.array([0, 1]))
    with pytest.raises(DatasetError, match="cannot read"):
        load_table(tmp_path / "o.npz")


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"f1": [0.5, 1.5], "f2": [1, 2], "label": ["no", "yes"]})
    pq.write_table(table, tmp_path / "d.parquet")
    X, y, names = load_table(tmp_path / "d.parquet")
    assert X.tolist() == [[0.5, 1], [1.5, 2]] and y.tolist() == [0, 1] and names == ("f1", "f2")
    pq.write_table(pa.table({"f1": [0.5, None], "label": [0, 1]}), tmp_path / "n.parquet")
    with pytest.raises(DatasetError, match="'f1' is missing"):
        load_table(tmp_path / "n.parquet", "label")


def test_parquet_without_pyarrow_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DatasetError, match="needs pyarrow") as err:
        load_table(tmp_path / "d.parquet", "y")
    assert "mlwarden[parquet]" in err.value.hint


@pytest.mark.parametrize("name", DEMO_DATASETS)
def test_demo_datasets_are_scaled_to_their_bounds(name: str) -> None:
    data = demo_dataset(name)
    assert data.X.dtype == np.float32 and data.y.dtype == np.int64
    assert data.X.min() == 0.0 and data.X.max() == 1.0 and data.clip == (0.0, 1.0)
    assert len(data.X) == len(data.y) and len(data.feature_names) == data.X.shape[1]
    assert set(data.y.tolist()) == set(data.classes)


def test_digits_as_images_and_synthetic_is_seeded() -> None:
    digits = demo_dataset("digits")
    assert digits.X.shape == (1797, 64) and digits.images().shape == (1797, 1, 8, 8)
    with pytest.raises(DatasetError, match="tabular"):
        demo_dataset("iris").images()
    assert np.array_equal(demo_dataset("synthetic", seed=1).X, demo_dataset("synthetic", seed=1).X)
    assert not np.array_equal(demo_dataset("synthetic", seed=1).X, demo_dataset("synthetic").X)
    with pytest.raises(DatasetError, match="no demo dataset 'mnist'"):
        demo_dataset("mnist")
