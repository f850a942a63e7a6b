"""Adapter for a fitted scikit-learn classifier (or anything with its ``predict`` API)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlwarden.models._arrays import Floats, LabelMap, Labels, as_batch, normalize_rows
from mlwarden.models.base import Capability, MissingCapability
from mlwarden.models.errors import ModelLoadError


class SklearnClassifier:
    """A fitted scikit-learn classifier seen through mlwarden's model Protocols.

    Labels are class *indices* ``0..k-1`` in the order of the estimator's ``classes_``
    (kept in :attr:`classes` to map back). Inputs of any ``input_shape`` are flattened to
    ``(n, n_features)`` before they reach the estimator, so an image classifier trained on
    flat pixels can be audited with image-shaped inputs.

    Args:
        estimator: a fitted classifier with ``predict`` and ``classes_`` (a Pipeline works).
        input_shape: shape of one sample; defaults to ``(n_features_in_,)``.
        clip: ``(low, high)`` bounds of valid inputs, or ``None`` when unbounded.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        input_shape: tuple[int, ...] | None = None,
        clip: tuple[float, float] | None = None,
    ) -> None:
        self.estimator = estimator
        self.clip = clip
        self._input_shape = input_shape
        self._labels: LabelMap | None = None
        self._queries = 0

    def __repr__(self) -> str:
        return f"SklearnClassifier({type(self.estimator).__name__})"

    @property
    def classes(self) -> np.ndarray[Any, Any]:
        """The estimator's own labels, in index order."""
        return self._label_map().classes

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.PREDICT}
        if hasattr(self.estimator, "predict_proba"):
            caps.add(Capability.PREDICT_PROBA)
        return frozenset(caps)

    @property
    def n_classes(self) -> int:
        return len(self._label_map())

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self._input_shape is not None:
            return tuple(self._input_shape)
        n_features = getattr(self.estimator, "n_features_in_", None)
        if n_features is None:
            raise ModelLoadError(
                f"{type(self.estimator).__name__} does not say how many features it takes",
                hint="Pass input_shape=(n_features,) to SklearnClassifier.",
            )
        return (int(n_features),)

    @property
    def queries(self) -> int:
        return self._queries

    def predict(self, x: Floats) -> Labels:
        """Class indices of the estimator's predictions for ``x``."""
        flat = self._flat(x)
        if len(flat) == 0:  # estimators refuse empty inputs
            return np.zeros(0, dtype=np.int64)
        return self._label_map().to_indices(self.estimator.predict(flat))

    def predict_proba(self, x: Floats) -> Floats:
        """Class probabilities, columns in :attr:`classes` order."""
        if Capability.PREDICT_PROBA not in self.capabilities:
            raise MissingCapability(
                f"{type(self.estimator).__name__} has no predict_proba",
                hint="Fit it with probabilities enabled (e.g. SVC(probability=True)).",
            )
        flat = self._flat(x)
        if len(flat) == 0:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        return normalize_rows(self.estimator.predict_proba(flat))

    def _flat(self, x: Floats) -> Floats:
        batch = as_batch(x, self.input_shape)
        self._queries += len(batch)
        return batch.reshape(len(batch), int(np.prod(batch.shape[1:])))

    def _label_map(self) -> LabelMap:
        if self._labels is None:
            classes = getattr(self.estimator, "classes_", None)
            if classes is None:
                raise ModelLoadError(
                    f"{type(self.estimator).__name__} has no classes_: is it a fitted classifier?",
                    hint="Fit the estimator first; regressors cannot be audited as classifiers.",
                )
            self._labels = LabelMap(classes)
        return self._labels
