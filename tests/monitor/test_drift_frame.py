"""Reading drift data: CSV (pyarrow and the stdlib fallback agree), Parquet, NPZ, NPY, arrays,
mappings and DataFrame-likes become named numeric or categorical columns; missing markers
become NaN; unreadable files are an InputError with a message, never a traceback."""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from mlwarden.errors import InputError, MlwardenError, UsageError
from mlwarden.monitor.frame import Frame, as_frame, load_frame

CSV = (
    "age,city,income,visits,note,day\n"
    '34,Paris,"1,200",3,,2024-01-01\n'
    "NA,Lyon,980.5,,ok,2024-01-02\n"
    "51,,nan,7,NULL,2024-01-03\n"
    "28,Paris,?,N/A,x y,2024-01-04\n"
    "45.5,Nice,1500,2,NA,2024-01-05\n"
)


@pytest.fixture
def no_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import pyarrow.csv`` / ``import pyarrow.parquet`` fail as if not installed."""
    for name in ("pyarrow", "pyarrow.csv", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)


def kinds(frame: Frame) -> dict[str, str]:
    return {n: "numeric" if frame.is_numeric(n) else "categorical" for n in frame.names}


def cells(col: NDArray[Any]) -> list[Any]:
    """Comparable cell values: NaN as None."""
    if col.dtype.kind == "f":
        return [None if np.isnan(v) else float(v) for v in col]
    return list(col.tolist())


def read_both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Frame, Frame]:
    fast = load_frame(path)
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "pyarrow.csv", None)
        slow = load_frame(path)
    return fast, slow


def test_csv_readers_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d.csv").write_text(CSV)
    fast, slow = read_both(tmp_path / "d.csv", monkeypatch)
    for frame in (fast, slow):
        assert frame.names == ("age", "city", "income", "visits", "note", "day")
        assert frame.rows == 5
        assert kinds(frame) == {
            "age": "numeric",
            "city": "categorical",
            "income": "categorical",  # "1,200" is text, so the whole column is
            "visits": "numeric",
            "note": "categorical",
            "day": "categorical",
        }
        assert cells(frame.column("age")) == [34.0, None, 51.0, 28.0, 45.5]
        assert cells(frame.column("visits")) == [3.0, None, 7.0, None, 2.0]
        assert cells(frame.column("city")) == ["Paris", "Lyon", None, "Paris", "Nice"]
        assert cells(frame.column("note")) == [None, "ok", None, "x y", None]
        assert cells(frame.column("income"))[0] == "1,200"
    for name in fast.names:
        assert cells(fast.column(name)) == cells(slow.column(name)), name


@pytest.mark.parametrize("marker", ["", "NA", "nan", "NaN", "null", "NULL", "None", "n/a", "?"])
def test_missing_markers_are_nan_with_both_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    (tmp_path / "m.csv").write_text(f"x,y\n1.5,a\n{marker},b\n3,{marker}\n")
    for frame in read_both(tmp_path / "m.csv", monkeypatch):
        assert cells(frame.column("x")) == [1.5, None, 3.0]
        assert cells(frame.column("y")) == ["a", "b", None]


def test_tsv_is_tab_separated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d.tsv").write_text("a\tb\n1,5\t2\n3\t4\n")
    for frame in read_both(tmp_path / "d.tsv", monkeypatch):
        assert frame.names == ("a", "b")
        assert cells(frame.column("a")) == ["1,5", "3"]
        assert cells(frame.column("b")) == [2.0, 4.0]


def test_boolean_csv_column_has_one_kind_with_both_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow.csv")
    (tmp_path / "b.csv").write_text("flag,x\ntrue,1\nfalse,2\ntrue,3\n")
    fast, slow = read_both(tmp_path / "b.csv", monkeypatch)
    assert kinds(fast) == kinds(slow)


def test_parquet_columns(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "f": [1.5, None, 3.0],
            "i": [1, 2, None],
            "b": [True, False, True],
            "s": ["x", None, "y"],
            "n": ["1", "2", "nan"],  # numbers stored as text are numbers
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    frame = load_frame(tmp_path / "d.parquet")
    assert kinds(frame) == {
        "f": "numeric",
        "i": "numeric",
        "b": "numeric",
        "s": "categorical",
        "n": "numeric",
    }
    assert cells(frame.column("i")) == [1.0, 2.0, None]
    assert cells(frame.column("s")) == ["x", None, "y"]
    pq.write_table(table, tmp_path / "d.pq")
    assert load_frame(tmp_path / "d.pq").names == frame.names


def test_parquet_without_pyarrow_says_what_to_install(tmp_path: Path, no_pyarrow: None) -> None:
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    with pytest.raises(InputError, match="pyarrow") as info:
        load_frame(tmp_path / "d.parquet")
    assert "parquet" in info.value.hint


def test_npz_with_names_and_without(tmp_path: Path) -> None:
    x = np.arange(12.0).reshape(4, 3)
    np.savez(tmp_path / "named.npz", X=x, names=np.array(["a", "b", "c"]), y=np.zeros(4))
    frame = load_frame(tmp_path / "named.npz")
    assert frame.names == ("a", "b", "c") and cells(frame.column("b")) == [1.0, 4.0, 7.0, 10.0]
    np.savez(tmp_path / "plain.npz", data=x.astype(np.int32))
    assert load_frame(tmp_path / "plain.npz").names == ("x0", "x1", "x2")
    np.savez(tmp_path / "single.npz", whatever=x, labels=np.zeros(4))  # the one 2-D array
    assert load_frame(tmp_path / "single.npz").rows == 4


def test_npy_one_and_two_dimensional(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.array([1.0, 2.0, np.nan]))
    frame = load_frame(tmp_path / "one.npy")
    assert frame.names == ("x0",) and cells(frame.column("x0")) == [1.0, 2.0, None]
    np.save(tmp_path / "two.npy", np.ones((5, 2), dtype=bool))
    frame = load_frame(tmp_path / "two.npy")
    assert frame.names == ("x0", "x1") and kinds(frame) == {"x0": "numeric", "x1": "numeric"}


def _ragged(path: Path) -> None:
    path.write_text("a,b\n1,2\n3\n")


def _object_npz(path: Path) -> None:
    np.savez(path, X=np.array([{"a": 1}, None], dtype=object))


def _object_npy(path: Path) -> None:
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


BAD_FILES: dict[str, Callable[[Path], object]] = {
    "ragged.csv": _ragged,
    "empty.csv": lambda p: p.write_text(""),
    "header-only.csv": lambda p: p.write_text("a,b\n"),
    "data.xlsx": lambda p: p.write_bytes(b"PK\x03\x04"),
    "noext": lambda p: p.write_text("a\n1\n"),
    "objects.npz": _object_npz,
    "objects.npy": _object_npy,
    "no-features.npz": lambda p: np.savez(p, a=np.arange(3), b=np.arange(3)),
    "garbage.npy": lambda p: p.write_bytes(b"\x93NUMPYgarbage"),
    "garbage.parquet": lambda p: p.write_bytes(b"PAR1 not really PAR1"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_unreadable_files_are_input_errors(tmp_path: Path, name: str) -> None:
    BAD_FILES[name](tmp_path / name)
    with pytest.raises(InputError):
        load_frame(tmp_path / name)


@pytest.mark.parametrize("name", ["ragged.csv", "empty.csv", "header-only.csv"])
def test_unreadable_csv_is_an_input_error_without_pyarrow(
    tmp_path: Path, name: str, no_pyarrow: None
) -> None:
    BAD_FILES[name](tmp_path / name)
    with pytest.raises(InputError):
        load_frame(tmp_path / name)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such data file"):
        load_frame(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError):
        load_frame(tmp_path / "dir.csv")


def test_invalid_utf8_is_an_input_error_without_pyarrow(tmp_path: Path, no_pyarrow: None) -> None:
    (tmp_path / "latin1.csv").write_bytes(b"a,b\n\xe9t\xe9,2\n")
    with pytest.raises(InputError):
        load_frame(tmp_path / "latin1.csv")


def _npz_no_rows(path: Path) -> None:
    np.savez(path, X=np.zeros((0, 2)))


def _npy_no_rows(path: Path) -> None:
    np.save(path, np.zeros((0, 2)))


def _not_a_zip(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")


def _bad_utf8_header(path: Path) -> None:
    path.write_bytes(b"\xff\xfea,b\n1,2\n")


def _fixed(name: str, write: Any, bug: str) -> Any:
    """A damaged file that once got through (``bug`` says how); now an InputError."""
    return pytest.param(name, write, id=name)


@pytest.mark.parametrize(
    ("name", "write"),
    [
        _fixed(
            "corrupt.npz",
            _not_a_zip,
            "frame._numpy catches (OSError, ValueError, EOFError) but np.load raises "
            "zipfile.BadZipFile for a damaged .npz",
        ),
        _fixed(
            "empty.npz",
            _npz_no_rows,
            "frame._numpy: X of shape (0, d) fails in reshape(len(x), -1) with ValueError, "
            "outside the try",
        ),
        _fixed(
            "empty.npy",
            _npy_no_rows,
            "frame.load_frame returns _numpy() before its 'has no rows' check: an empty "
            ".npy gives a 0-row frame (as current data: 'no drift', exit 0)",
        ),
        _fixed(
            "bad-header.csv",
            _bad_utf8_header,
            "frame._arrow: table.column_names raises UnicodeDecodeError for a non-UTF-8 "
            "header (pyarrow path only; the stdlib reader gives InputError)",
        ),
    ],
)
def test_damaged_files_are_input_errors(tmp_path: Path, name: str, write: Any) -> None:
    if name.endswith(".csv"):
        pytest.importorskip("pyarrow.csv")
    write(tmp_path / name)
    raised = "nothing"
    # np.load leaves a damaged file open when it fails: let it close quietly here, so that
    # its ResourceWarning neither fails this test's teardown nor surfaces in a later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            load_frame(tmp_path / name)
        except InputError:
            return
        except Exception as exc:  # the bug: a raw exception, a traceback in the CLI
            raised = type(exc).__name__
        gc.collect()
    pytest.fail(f"expected InputError, got {raised}")


# --- in-memory data --------------------------------------------------------------------------


def test_arrays_mappings_and_names() -> None:
    x = np.arange(6).reshape(3, 2)
    frame = as_frame(x, ["a", "b"])
    assert frame.names == ("a", "b") and frame.column("b").dtype == np.float64
    assert as_frame(np.arange(3.0)).names == ("x0",)
    mixed = as_frame({"n": [1, 2, 3], "t": ["a", None, "b"], "flag": [True, False, True]})
    assert kinds(mixed) == {"n": "numeric", "t": "categorical", "flag": "numeric"}
    assert cells(mixed.column("t")) == ["a", None, "b"]
    assert as_frame(frame) is frame


def test_text_numbers_and_dates_in_memory() -> None:
    frame = as_frame(
        {
            "num_text": np.array(["1", " 2.5", "NA"]),
            "when": np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[D]"),
        }
    )
    assert cells(frame.column("num_text")) == [1.0, 2.5, None]
    assert frame.is_numeric("when")
    assert np.diff(frame.column("when")).tolist() == [86400.0, 86400.0]


def test_dataframe_like_objects() -> None:
    class Table:
        """What as_frame needs of a pandas/polars DataFrame: columns and item access."""

        columns = ("a", "b")

        def __getitem__(self, key: str) -> list[Any]:
            data: dict[str, list[Any]] = {"a": [1.0, 2.0], "b": ["u", "v"]}
            return data[key]

    frame = as_frame(Table())
    assert frame.names == ("a", "b") and kinds(frame) == {"a": "numeric", "b": "categorical"}


@pytest.mark.parametrize(
    ("data", "names", "message"),
    [
        (np.zeros((2, 2, 2)), None, "table"),
        (np.zeros((3, 2)), ["only-one"], "names"),
        ({"a": [1, 2], "b": [1]}, None, "length"),
        ({}, None, "no columns"),
    ],
)
def test_non_tabular_data_is_a_usage_error(data: Any, names: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        as_frame(data, names)


def test_select_keeps_and_drops() -> None:
    frame = as_frame(np.zeros((2, 3)), ["a", "b", "c"])
    assert frame.select(["c", "a"]).names == ("c", "a")
    assert frame.select(None, ["b"]).names == ("a", "c")
    with pytest.raises(UsageError, match="'z'"):
        frame.select(["a", "z"])
    with pytest.raises(MlwardenError):
        frame.select(None, ["z"])
