"""Array helpers shared by the adapters: input validation, softmax, label mapping, batching."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.models.base import UNCERTAIN
from mlwarden.models.errors import InputShapeError, ModelLoadError, ModelOutputError

Floats = NDArray[np.float32]
Labels = NDArray[np.int64]


class CountingAdapter:
    """What most adapters keep the same way: the class count, the input shape, and a query
    counter (every input that passes :meth:`_count` is one query)."""

    _n_classes: int
    _input_shape: tuple[int, ...]
    _queries: int = 0

    @property
    def n_classes(self) -> int:
        return self._n_classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._input_shape

    @property
    def queries(self) -> int:
        return self._queries

    def _count(self, x: Any) -> Floats:
        """``x`` as a checked batch, counted as queries."""
        batch = as_batch(x, self._input_shape)
        self._queries += len(batch)
        return batch


def as_batch(x: Any, input_shape: tuple[int, ...]) -> Floats:
    """``x`` as a C-contiguous float32 array of shape ``(n, *input_shape)``, or an error."""
    try:
        arr = np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputShapeError(f"inputs are not a numeric array: {exc}") from None
    if arr.ndim != len(input_shape) + 1 or tuple(arr.shape[1:]) != tuple(input_shape):
        raise InputShapeError(
            f"inputs have shape {tuple(arr.shape)}; the model expects (n, "
            f"{', '.join(str(d) for d in input_shape)})"
        )
    return arr


def softmax(z: NDArray[Any]) -> Floats:
    """Row-wise softmax in float64 (no overflow), returned as float32."""
    z64 = np.asarray(z, dtype=np.float64)
    z64 = z64 - z64.max(axis=1, keepdims=True)
    e = np.exp(z64)
    out: Floats = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def normalize_rows(p: NDArray[Any]) -> Floats:
    """Probabilities as float32 rows that sum to 1 (re-normalised after the cast)."""
    p64 = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    sums = p64.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    out: Floats = (p64 / sums).astype(np.float32)
    return out


def argmax_labels(scores: NDArray[Any]) -> Labels:
    """Index of the highest score per row, as int64 (ties go to the lowest index)."""
    out: Labels = np.asarray(np.argmax(scores, axis=1), dtype=np.int64)
    return out


def batch_slices(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` rows covering ``range(n)``."""
    for start in range(0, n, max(1, size)):
        yield slice(start, min(n, start + size))


class LabelMap:
    """Maps a model's own class labels (ints or strings) to indices ``0..k-1`` and back.

    Args:
        classes: the labels in index order (``classes_`` of a scikit-learn estimator).
    """

    def __init__(self, classes: Sequence[Any] | NDArray[Any]) -> None:
        self.classes = np.asarray(classes)
        self._index = {_key(c): i for i, c in enumerate(self.classes.tolist())}
        if len(self._index) != len(self.classes):
            raise ModelLoadError(f"duplicate class labels in {self.classes.tolist()!r}")

    def __len__(self) -> int:
        return len(self.classes)

    def to_indices(self, labels: Sequence[Any] | NDArray[Any]) -> Labels:
        """Indices of ``labels``; ``None`` (an uncertain answer) becomes ``UNCERTAIN``."""
        out = np.empty(len(labels), dtype=np.int64)
        for i, label in enumerate(np.asarray(labels, dtype=object).tolist()):
            if label is None:
                out[i] = UNCERTAIN
                continue
            index = self._index.get(_key(label))
            if index is None:
                raise ModelOutputError(
                    f"the model answered label {label!r}, which is not one of its classes "
                    f"{self.classes.tolist()!r}"
                )
            out[i] = index
        return out

    def match(self, keys: Sequence[Any]) -> list[Any]:
        """The entry of ``keys`` naming each class, in index order (ZipMap's dict keys)."""
        by_key = {_key(k): k for k in keys}
        missing = [c for c in self.classes.tolist() if _key(c) not in by_key]
        if missing:
            raise ModelOutputError(
                f"the model's scores have no class {missing[0]!r}; it answers {list(keys)!r}"
            )
        return [by_key[_key(c)] for c in self.classes.tolist()]


def _key(label: Any) -> Any:
    # 3, 3.0, np.int64(3) and "3" from a JSON answer name the same class.
    if isinstance(label, bytes):
        label = label.decode("utf-8", "replace")
    if isinstance(label, (bool, np.bool_)):
        return str(bool(label))
    if isinstance(label, (int, float, np.integer, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label)


def index_labels(labels: NDArray[Any], n_classes: int) -> Labels:
    """Integer labels that already are class indices, checked to lie in ``0..n_classes-1``."""
    values = np.asarray(labels)
    if values.dtype.kind not in "iuf" or (values.dtype.kind == "f" and not np.all(values % 1 == 0)):
        raise ModelOutputError(
            f"the model answers labels of type {values.dtype}; pass classes=[...] to map them"
        )
    out = values.astype(np.int64).reshape(-1)
    bad = (out < 0) | (out >= n_classes)
    if bad.any():
        raise ModelOutputError(
            f"the model answered label {int(out[bad][0])}, outside 0..{n_classes - 1}; "
            "pass classes=[...] to map its labels"
        )
    return out
