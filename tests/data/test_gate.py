"""The retrain gate: label flips drop cross-validated accuracy below the baseline; clean
data passes; the flagged rows' labels disagree with a model that never saw them."""

from __future__ import annotations

import numpy as np
import pytest

from mlwarden.data.gate import retrain_gate
from mlwarden.data.poisoning import flip_labels
from mlwarden.datasets import demo_dataset
from mlwarden.errors import UsageError


def test_clean_data_passes_against_its_own_score() -> None:
    data = demo_dataset("breast_cancer")
    first = retrain_gate(data.X, data.y, np.zeros(0, dtype=np.int64))
    assert first.passed and first.flagged == 0 and first.flagged_agreement is None
    again = retrain_gate(data.X, data.y, np.zeros(0, dtype=np.int64), baseline=first.score_with)
    assert again.passed
    assert again.to_dict()["baseline_source"] == "baseline"


def test_label_flips_fail_the_gate_against_a_trusted_baseline() -> None:
    data = demo_dataset("breast_cancer")
    trusted = retrain_gate(data.X, data.y, np.zeros(0, dtype=np.int64)).score_with
    poisoned = flip_labels(data.X, data.y, fraction=0.2, target=0, seed=0)
    result = retrain_gate(poisoned.x, poisoned.y, poisoned.indices, baseline=trusted, margin=0.02)
    assert not result.passed
    assert result.drop > 0.02
    assert result.score_without > result.score_with
    assert result.flagged_agreement is not None and result.flagged_agreement < 0.2
    numbers = result.to_dict()
    assert numbers["passed"] is False and numbers["flagged"] == len(poisoned.indices)


def test_without_a_baseline_the_flagged_rows_are_the_reference() -> None:
    data = demo_dataset("breast_cancer")
    poisoned = flip_labels(data.X, data.y, fraction=0.2, target=0, seed=0)
    result = retrain_gate(poisoned.x, poisoned.y, poisoned.indices, margin=0.02)
    assert result.baseline == result.score_without
    assert not result.passed


def test_gate_needs_two_rows_per_class() -> None:
    with pytest.raises(UsageError, match="two rows of every class"):
        retrain_gate(np.zeros((3, 2)), np.array([0, 0, 1]), np.zeros(0, dtype=np.int64))
