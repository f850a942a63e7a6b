"""Arrays from CSV, Parquet and NPZ files, and the small demo datasets bundled with scikit-learn.

Every loader returns float32 features and int64 labels, the conventions of the model adapters
(numpy is required: the ``audit`` extra). Integer labels are kept as they are; any other
labels (``"cat"``, ``"dog"``) become indices into the sorted ``classes``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import InputError

_LABEL_NAMES = ("label", "target", "y", "class")
DEMO_DATASETS = ("digits", "breast_cancer", "iris", "wine", "synthetic")


class DatasetError(InputError):
    """A data file cannot be turned into a feature matrix and labels."""

    hint = (
        "Data files are CSV (header row, numeric features), Parquet or NPZ (arrays X and y); "
        "name the label column with --label."
    )


@dataclass(frozen=True)
class Table:
    """Features, labels and names; unpacks as ``X, y, feature_names = table``."""

    X: NDArray[np.float32]
    y: NDArray[np.int64]
    feature_names: tuple[str, ...]
    classes: tuple[Any, ...]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.X, self.y, self.feature_names))


@dataclass(frozen=True)
class Dataset(Table):
    """A demo dataset: features scaled to ``[0, 1]`` (the bounds in ``clip``).

    Attributes:
        name: the dataset's name.
        image_shape: ``(1, 8, 8)`` for digits (channels first, for CNNs), else ``None``.
        clip: bounds of valid inputs.
    """

    name: str
    image_shape: tuple[int, ...] | None
    clip: tuple[float, float]

    def images(self) -> NDArray[np.float32]:
        """The features shaped as images ``(n, *image_shape)``; an error for tabular sets."""
        if self.image_shape is None:
            raise DatasetError(f"{self.name} is tabular, not images")
        return self.X.reshape(len(self.X), *self.image_shape)


def load_table(
    path: str | Path, label: str | int | None = None, *, features: str | None = None
) -> Table:
    """Read a data file into float32 features and int64 labels.

    Args:
        path: a ``.csv``, ``.parquet``/``.pq`` or ``.npz`` file.
        label: the label column (name, or index for CSV); ``None`` looks for a column named
            label/target/y/class. For NPZ, the key of the labels (default ``y``).
        features: NPZ only: the key of the features (default ``X`` or ``x``).

    Raises:
        DatasetError: the file is missing, empty, ragged, non-numeric or has no labels.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no such data file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, label, features)
    if suffix in (".parquet", ".pq"):
        return _load_parquet(path, label)
    if suffix in (".csv", ".txt", ".tsv"):
        return _load_csv(path, label)
    raise DatasetError(f"{path}: unknown data format {suffix or '(no suffix)'!r}")


def _load_csv(path: Path, label: str | int | None) -> Table:
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
            rows = [r for r in csv.reader(stream, dialect) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise DatasetError(f"{path} is empty")
    header = _has_header(rows[0])
    names = [c.strip() for c in rows[0]] if header else [f"x{i}" for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    if not body:
        raise DatasetError(f"{path} has a header but no rows")
    for line, row in enumerate(body, start=2 if header else 1):
        if len(row) != len(names):
            raise DatasetError(f"{path}:{line}: {len(row)} cells, expected {len(names)}")
    col = _label_column(names, label, header, path)
    feature_cols = [i for i in range(len(names)) if i != col]
    cells = [[row[i] for i in feature_cols] for row in body]
    X = _numeric(cells, [names[i] for i in feature_cols], path, 2 if header else 1)
    y, classes = _encode_labels([row[col].strip() for row in body], path)
    return Table(X, y, tuple(names[i] for i in feature_cols), classes)


def _has_header(row: Sequence[str]) -> bool:
    return any(not _is_number(cell) for cell in row)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _label_column(names: list[str], label: str | int | None, header: bool, path: Path) -> int:
    if isinstance(label, int) and not isinstance(label, bool):
        if not -len(names) <= label < len(names):
            raise DatasetError(f"{path}: label column {label} out of range (0..{len(names) - 1})")
        return label % len(names)
    if label is None:
        found = [i for i, n in enumerate(names) if n.lower() in _LABEL_NAMES]
        if header and found:
            return found[0]
        raise DatasetError(
            f"{path}: which column holds the labels?",
            hint=f"Pass --label NAME (columns: {', '.join(names[:20])}) or a column index.",
        )
    if not header or label not in names:
        raise DatasetError(
            f"{path}: no column named {label!r}",
            hint=f"Columns: {', '.join(names[:20])}" if header else "The file has no header row.",
        )
    return names.index(label)


def _numeric(
    cells: list[list[Any]], names: list[str], path: Path, first: int
) -> NDArray[np.float32]:
    try:
        X = np.asarray(cells, dtype=np.float64)
    except (TypeError, ValueError):
        for r, row in enumerate(cells):
            for c, cell in enumerate(row):
                if not _is_number(str(cell)):
                    what = "is empty" if not str(cell).strip() else f"holds {str(cell)[:40]!r}"
                    raise DatasetError(
                        f"{path}:{first + r}: column {names[c]!r} {what}, not a number",
                        hint="Features must be numeric: encode categories before auditing.",
                    ) from None
        raise
    if X.ndim != 2:  # pragma: no cover - rows were checked for equal length
        raise DatasetError(f"{path}: features are not a table")
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DatasetError(
            f"{path}:{first + r}: column {names[c]!r} is missing or not finite",
            hint="Impute or drop missing values before auditing.",
        )
    out: NDArray[np.float32] = X.astype(np.float32)
    return out


def _encode_labels(values: Sequence[Any], path: Path) -> tuple[NDArray[np.int64], tuple[Any, ...]]:
    if any(v is None or (isinstance(v, str) and not v) for v in values):
        raise DatasetError(f"{path}: some rows have no label")
    try:
        numbers = np.asarray([float(v) for v in values])
    except (TypeError, ValueError):
        numbers = None
    if numbers is not None and np.all(np.isfinite(numbers)) and np.all(numbers % 1 == 0):
        y = numbers.astype(np.int64)
        return y, tuple(int(c) for c in np.unique(y))
    classes = sorted({str(v) for v in values})
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[str(v)] for v in values], dtype=np.int64), tuple(classes)


def _load_npz(path: Path, label: str | int | None, features: str | None) -> Table:
    if isinstance(label, int):
        raise DatasetError(f"{path}: an NPZ file names its labels by key, not by index")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            x_key = features or next((k for k in ("X", "x") if k in keys), None)
            y_key = label or "y"
            if x_key not in keys or y_key not in keys:
                raise DatasetError(
                    f"{path}: needs arrays {x_key or 'X'!r} and {y_key!r}; it has {sorted(keys)}",
                    hint="Pass features= / --label with the keys of the arrays.",
                )
            X_raw, y_raw = archive[x_key], archive[y_key]
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if X_raw.ndim < 2 or len(X_raw) != len(y_raw) or len(X_raw) == 0:
        raise DatasetError(f"{path}: X has shape {X_raw.shape} and y {y_raw.shape}")
    flat = X_raw.reshape(len(X_raw), -1)
    names = [f"x{i}" for i in range(flat.shape[1])]
    X = _numeric(flat.tolist(), names, path, 0).reshape(X_raw.shape)
    y, classes = _encode_labels(y_raw.reshape(-1).tolist(), path)
    return Table(X, y, tuple(names), classes)


def _load_parquet(path: Path, label: str | int | None) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(
            f"{path}: reading Parquet needs pyarrow", hint="pip install 'mlwarden[parquet]'"
        ) from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise DatasetError(f"cannot read {path}: {exc}") from None
    names = [str(n) for n in table.column_names]
    if table.num_rows == 0:
        raise DatasetError(f"{path} has no rows")
    col = _label_column(names, label, True, path)
    columns = [table.column(i).to_pylist() for i in range(len(names))]
    feature_cols = [i for i in range(len(names)) if i != col]
    cells = [list(row) for row in zip(*(columns[i] for i in feature_cols), strict=True)]
    X = _numeric(cells, [names[i] for i in feature_cols], path, 1)
    y, classes = _encode_labels(columns[col], path)
    return Table(X, y, tuple(names[i] for i in feature_cols), classes)


def demo_dataset(name: str, *, seed: int = 0) -> Dataset:
    """A small bundled dataset, features scaled to ``[0, 1]``.

    Args:
        name: ``digits`` (8x8 images, ``image_shape`` ``(1, 8, 8)``), ``breast_cancer``,
            ``iris``, ``wine`` or ``synthetic`` (``make_classification``, seeded).
        seed: the random seed of ``synthetic``.
    """
    try:
        from sklearn import datasets as sk
    except ImportError:
        raise DatasetError(
            "the demo datasets come with scikit-learn", hint="pip install 'mlwarden[audit]'"
        ) from None
    if name == "digits":
        bunch = sk.load_digits()
        X = (bunch.data / 16.0).astype(np.float32)
        return _dataset(name, X, bunch.target, bunch.feature_names, (1, 8, 8))
    if name == "synthetic":
        X, y = sk.make_classification(
            n_samples=1000, n_features=20, n_informative=10, n_classes=3, random_state=seed
        )
        return _dataset(name, _minmax(X), y, [f"x{i}" for i in range(20)], None)
    loaders = {"breast_cancer": sk.load_breast_cancer, "iris": sk.load_iris, "wine": sk.load_wine}
    if name not in loaders:
        raise DatasetError(
            f"no demo dataset {name!r}", hint=f"Choose one of {', '.join(DEMO_DATASETS)}."
        )
    bunch = loaders[name]()
    return _dataset(name, _minmax(bunch.data), bunch.target, list(bunch.feature_names), None)


def _minmax(X: NDArray[Any]) -> NDArray[np.float32]:
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    out: NDArray[np.float32] = ((X - low) / span).astype(np.float32)
    return out


def _dataset(
    name: str, X: NDArray[Any], y: NDArray[Any], names: Sequence[str], image: tuple[int, ...] | None
) -> Dataset:
    labels = np.asarray(y, dtype=np.int64)
    classes = tuple(int(c) for c in np.unique(labels))
    return Dataset(
        X=np.ascontiguousarray(X, dtype=np.float32),
        y=labels,
        feature_names=tuple(str(n) for n in names),
        classes=classes,
        name=name,
        image_shape=image,
        clip=(0.0, 1.0),
    )
