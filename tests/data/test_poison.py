"""Poison detection: the poisoned class is named and its poison found; clean data is not
flagged. Image backdoors (raw pixels and a CNN's penultimate layer), tabular label flips and
feature triggers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlwarden.data.poison import PoisonResult, detect_poison
from mlwarden.data.poisoning import flip_labels, plant_feature_trigger, plant_patch_trigger
from mlwarden.datasets import demo_dataset


def _scores(result: PoisonResult, mask: np.ndarray[Any, Any]) -> tuple[float, float]:
    flagged = np.zeros(len(mask), dtype=bool)
    flagged[result.flagged] = True
    hits = int((flagged & mask).sum())
    return hits / max(int(flagged.sum()), 1), hits / max(int(mask.sum()), 1)


def _separable_tabular() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=600, n_features=12, n_informative=6, n_classes=3, class_sep=2.0, random_state=0
    )
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    return x.astype(np.float32), y.astype(np.int64)


def test_clean_digits_name_no_class() -> None:
    data = demo_dataset("digits")
    result = detect_poison(data.images(), data.y)
    assert result.suspected == ()
    assert len(result.flagged) == 0
    assert len(result.classes) == 10
    assert all(0 <= c.silhouette <= 1 for c in result.classes)


@pytest.mark.parametrize(("fraction", "floor"), [(0.1, 0.9), (0.03, 0.8)])
def test_patch_backdoor_in_raw_pixels(fraction: float, floor: float) -> None:
    data = demo_dataset("digits")
    poisoned = plant_patch_trigger(data.images(), data.y, fraction=fraction, target=3, seed=2)
    result = detect_poison(poisoned.x, poisoned.y)
    assert result.suspected == (3,)
    precision, recall = _scores(result, poisoned.mask)
    assert precision >= floor and recall >= floor
    stats = result.classes[3]
    assert set(stats.masked_features) == {54, 55, 62, 63}  # the trigger pixels
    assert len(result.isolation_forest) > 0


def test_clean_tabular_names_no_class() -> None:
    x, y = _separable_tabular()
    assert detect_poison(x, y).suspected == ()
    cancer = demo_dataset("breast_cancer")
    assert detect_poison(cancer.X, cancer.y).suspected == ()


def test_label_flip_on_tabular_data() -> None:
    x, y = _separable_tabular()
    poisoned = flip_labels(x, y, fraction=0.1, target=1, seed=3)
    result = detect_poison(poisoned.x, poisoned.y)
    assert result.suspected == (1,)
    precision, recall = _scores(result, poisoned.mask)
    assert precision >= 0.85 and recall >= 0.75


def test_feature_trigger_on_tabular_data() -> None:
    x, y = _separable_tabular()
    poisoned = plant_feature_trigger(x, y, fraction=0.05, features=(2, 5), value=1.5, seed=4)
    result = detect_poison(poisoned.x, poisoned.y)
    assert result.suspected == (0,)
    assert {2, 5} <= set(result.classes[0].masked_features)
    precision, recall = _scores(result, poisoned.mask)
    assert precision >= 0.8 and recall >= 0.8


def test_bad_input_is_refused() -> None:
    from mlwarden.errors import UsageError

    with pytest.raises(UsageError, match="at least two classes"):
        detect_poison(np.zeros((10, 3)), np.zeros(10))
    with pytest.raises(UsageError, match="at least two classes"):
        detect_poison(np.zeros((10, 3)), np.arange(9))
