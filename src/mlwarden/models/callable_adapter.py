"""Adapter for plain Python functions: any model reachable from code can be audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlwarden.errors import UsageError
from mlwarden.models._arrays import (
    CountingAdapter,
    Floats,
    Labels,
    argmax_labels,
    normalize_rows,
)
from mlwarden.models.base import UNCERTAIN, Capability, MissingCapability
from mlwarden.models.errors import ModelOutputError

PredictFn = Callable[[Floats], Any]


class CallableClassifier(CountingAdapter):
    """A classifier made of functions on batches.

    Args:
        fn_predict: ``x (n, *input_shape) float32 -> (n,) class indices``; ``None`` to take
            the argmax of ``fn_proba``.
        fn_proba: ``x -> (n, k)`` probabilities, when the model offers them.
        n_classes: number of classes ``k``.
        input_shape: shape of one sample.
        clip: ``(low, high)`` bounds of valid inputs, or ``None`` when unbounded.
    """

    def __init__(
        self,
        fn_predict: PredictFn | None,
        *,
        fn_proba: PredictFn | None = None,
        n_classes: int,
        input_shape: tuple[int, ...],
        clip: tuple[float, float] | None = None,
    ) -> None:
        if fn_predict is None and fn_proba is None:
            raise UsageError("CallableClassifier needs fn_predict, fn_proba or both")
        self.fn_predict = fn_predict
        self.fn_proba = fn_proba
        self.clip = clip
        self._n_classes = int(n_classes)
        self._input_shape = tuple(int(d) for d in input_shape)
        self._queries = 0

    def __repr__(self) -> str:
        return f"CallableClassifier(n_classes={self._n_classes}, input_shape={self._input_shape})"

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.PREDICT}
        if self.fn_proba is not None:
            caps.add(Capability.PREDICT_PROBA)
        return frozenset(caps)

    def predict(self, x: Floats) -> Labels:
        """Class indices from ``fn_predict`` (or the argmax of ``fn_proba``)."""
        batch = self._count(x)
        if len(batch) == 0:
            return np.zeros(0, dtype=np.int64)
        if self.fn_predict is None:
            return argmax_labels(self._proba(batch))
        labels = np.asarray(self.fn_predict(batch)).reshape(-1)
        if labels.shape != (len(batch),) or labels.dtype.kind not in "iu":
            raise ModelOutputError(
                f"fn_predict returned {labels.dtype} of shape {labels.shape}; expected "
                f"({len(batch)},) integers"
            )
        out = labels.astype(np.int64)
        if np.any((out != UNCERTAIN) & ((out < 0) | (out >= self._n_classes))):
            raise ModelOutputError(f"fn_predict returned a label outside 0..{self._n_classes - 1}")
        return out

    def predict_proba(self, x: Floats) -> Floats:
        """Probabilities from ``fn_proba``."""
        if self.fn_proba is None:
            raise MissingCapability("this CallableClassifier was given no fn_proba")
        return self._proba(self._count(x))

    def _proba(self, batch: Floats) -> Floats:
        if self.fn_proba is None:  # pragma: no cover - guarded by the callers
            raise MissingCapability("this CallableClassifier was given no fn_proba")
        if len(batch) == 0:
            return np.zeros((0, self._n_classes), dtype=np.float32)
        proba = np.asarray(self.fn_proba(batch), dtype=np.float64)
        if proba.shape != (len(batch), self._n_classes):
            raise ModelOutputError(
                f"fn_proba returned shape {proba.shape}; expected ({len(batch)}, {self._n_classes})"
            )
        return normalize_rows(proba)
