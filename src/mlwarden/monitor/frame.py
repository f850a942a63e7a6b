"""Named columns for drift tests: numeric (float64, NaN = missing) or categorical (strings).

Drift is tested column by column on whatever a user has: a CSV or Parquet file, an NPZ
archive, a NumPy array or a pandas DataFrame. :func:`as_frame` turns each into a
:class:`Frame` without pandas; CSV goes through pyarrow when it is installed (fast) and the
standard library otherwise. A column is numeric when every non-empty cell is a number;
empty cells and ``NA``/``NaN``/``null`` are missing values.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import InputError, UsageError

_MISSING = frozenset({"", "na", "nan", "null", "none", "n/a", "#n/a", "?"})


@dataclass(frozen=True)
class Frame:
    """Columns by name; numeric ones are float64 arrays, categorical ones object arrays."""

    names: tuple[str, ...]
    columns: tuple[NDArray[Any], ...]

    @property
    def rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def column(self, name: str) -> NDArray[Any]:
        return self.columns[self.names.index(name)]

    def is_numeric(self, name: str) -> bool:
        return self.column(name).dtype.kind == "f"

    def select(self, keep: Sequence[str] | None, drop: Sequence[str] = ()) -> Frame:
        """The named columns (all when ``keep`` is ``None``) minus ``drop``.

        Raises:
            UsageError: a named column is not in the frame.
        """
        unknown = [c for c in (*(keep or ()), *drop) if c not in self.names]
        if unknown:
            raise UsageError(f"no column named {', '.join(map(repr, unknown))}")
        names = [n for n in (keep or self.names) if n not in drop]
        return Frame(tuple(names), tuple(self.column(n) for n in names))


def as_frame(data: Any, names: Sequence[str] | None = None) -> Frame:
    """A :class:`Frame` from a path, an array ``(n, d)``, a mapping of columns or a DataFrame.

    Raises:
        InputError: a file cannot be read or holds no rows.
        UsageError: the data is not tabular, or ``names`` does not fit it.
    """
    if isinstance(data, Frame):
        return data
    if isinstance(data, (str, Path)):
        return load_frame(data)
    if hasattr(data, "columns") and hasattr(data, "__getitem__") and not isinstance(data, dict):
        return _from_columns({str(c): np.asarray(data[c]) for c in data.columns})
    if isinstance(data, dict):
        return _from_columns({str(k): np.asarray(v) for k, v in data.items()})
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise UsageError(f"drift needs a table (rows x features), got shape {arr.shape}")
    names = list(names) if names is not None else [f"x{i}" for i in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise UsageError(f"{len(names)} names for {arr.shape[1]} columns")
    if arr.dtype.kind in "fiub":  # one column-major copy: every test then reads contiguously
        arr = np.asfortranarray(arr, dtype=np.float64)
    return _from_columns({n: arr[:, i] for i, n in enumerate(names)})


def load_frame(path: str | Path) -> Frame:
    """Read a ``.csv``/``.tsv``, ``.parquet``/``.pq``, ``.npz`` or ``.npy`` file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such data file: {path}")
    suffix = path.suffix.lower()
    readers = {".csv": _csv, ".tsv": _csv, ".txt": _csv, ".parquet": _parquet, ".pq": _parquet}
    if suffix in (".npz", ".npy"):
        frame = _numpy(path)
    elif suffix in readers:
        frame = readers[suffix](path)
    else:
        raise InputError(f"{path}: unknown data format {suffix or '(no suffix)'!r}")
    if frame.rows == 0:
        raise InputError(f"{path} has no rows")
    return frame


def _from_columns(columns: dict[str, NDArray[Any]]) -> Frame:
    if not columns:
        raise UsageError("the data has no columns")
    lengths = {len(c) for c in columns.values()}
    if len(lengths) != 1:
        raise UsageError("the columns differ in length")
    return Frame(tuple(columns), tuple(_typed(c) for c in columns.values()))


def _typed(col: NDArray[Any]) -> NDArray[Any]:
    """float64 for numbers and booleans, object (str or None) for anything else."""
    if col.dtype.kind in "fiub":
        return col.astype(np.float64, copy=False)
    if col.dtype.kind == "M":
        return col.astype("datetime64[s]").astype(np.float64)
    cells = ["" if v is None else str(v) for v in col.tolist()]
    return _from_text(cells)


_BOOLEAN = {"true": 1.0, "false": 0.0}


def _from_text(cells: list[str]) -> NDArray[Any]:
    missing = [c.strip().lower() in _MISSING for c in cells]
    words = {c.strip().lower() for c, m in zip(cells, missing, strict=True) if not m}
    if words and words <= _BOOLEAN.keys():  # as pyarrow reads them: numbers
        values = [
            float("nan") if m else _BOOLEAN[c.strip().lower()]
            for c, m in zip(cells, missing, strict=True)
        ]
        return np.array(values, dtype=np.float64)
    try:
        values = [float("nan") if m else float(c) for c, m in zip(cells, missing, strict=True)]
    except ValueError:
        return np.array([None if m else c for c, m in zip(cells, missing, strict=True)], object)
    return np.array(values, dtype=np.float64)


def _csv(path: Path) -> Frame:
    try:
        import pyarrow.csv as pacsv
    except ImportError:
        return _csv_stdlib(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(null_values=sorted(_MISSING | {"NA", "NaN"})),
        )
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise InputError(f"cannot read {path}: {exc}") from None
    return _arrow(table, path)


def _csv_stdlib(path: Path) -> Frame:
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
            rows = [r for r in csv.reader(stream, dialect) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if len(rows) < 2:
        raise InputError(f"{path} needs a header row and at least one data row")
    names = [c.strip() for c in rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise InputError(f"{path}:{line}: {len(row)} cells, expected {len(names)}")
    cols = {n: _from_text([r[i] for r in rows[1:]]) for i, n in enumerate(names)}
    return Frame(tuple(cols), tuple(cols.values()))


def _parquet(path: Path) -> Frame:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            f"{path}: reading Parquet needs pyarrow", hint="pip install 'mlwarden[parquet]'"
        ) from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    return _arrow(table, path)


def _arrow(table: Any, path: Path) -> Frame:
    import pyarrow as pa

    columns: dict[str, NDArray[Any]] = {}
    try:
        names = [str(n) for n in table.column_names]
    except UnicodeDecodeError:
        raise InputError(f"{path}: the header is not UTF-8 text") from None
    for name, col in zip(names, table.columns, strict=True):
        kind = col.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            arr = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
            columns[name] = np.asarray(arr, dtype=np.float64)
        else:
            cells = [_text(v) for v in col.to_pylist()]
            columns[name] = _typed(np.asarray(cells, dtype=object))
    return Frame(tuple(columns), tuple(columns.values()))


def _text(value: Any) -> Any:
    """Bytes that are not UTF-8 (pyarrow reads them as binary) become text with U+FFFD."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _numpy(path: Path) -> Frame:
    try:
        with path.open("rb") as stream:
            loaded = np.load(stream, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                return _array_frame(loaded, path)
            with loaded as data:
                arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    key = next((k for k in ("X", "x", "features", "data") if k in arrays), None)
    two_d = [k for k, v in arrays.items() if v.ndim == 2]
    key = key or (two_d[0] if len(two_d) == 1 else None)
    if key is None:
        raise InputError(f"{path}: no feature array (name it X)")
    names = next((arrays[k] for k in ("names", "feature_names", "columns") if k in arrays), None)
    return _array_frame(
        arrays[key], path, [str(n) for n in names.tolist()] if names is not None else None
    )


def _array_frame(x: NDArray[Any], path: Path, names: list[str] | None = None) -> Frame:
    if x.ndim == 0 or len(x) == 0:
        raise InputError(f"{path} has no rows")
    try:
        return as_frame(x.reshape(len(x), -1), names)
    except UsageError as exc:
        raise InputError(f"{path}: {exc}") from None
