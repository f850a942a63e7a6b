"""Input schema validation: clean inputs pass, broken ones are refused with a clear reason."""

from __future__ import annotations

import numpy as np
import pytest

from mlwarden.defenses import InputSchema, InputViolation
from mlwarden.errors import UsageError


@pytest.fixture
def train() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform([0, 10, -5], [1, 20, 5], size=(500, 3)).astype(np.float32)


def test_clean_inputs_pass(train: np.ndarray) -> None:
    schema = InputSchema.fit(train)
    held_out = np.random.default_rng(1).uniform([0, 10, -5], [1, 20, 5], size=(300, 3))
    schema.check(train)
    assert not schema.rejected(held_out).any()
    cal = schema.calibrate(held_out)
    assert cal.false_positive_rate == 0.0 and cal.samples == 300
    schema.check(train[0])  # one input of the input shape


def test_broken_inputs_are_refused(train: np.ndarray) -> None:
    schema = InputSchema.fit(train, margin=0.1)
    bad = np.array([[0.5, 15, 0], [np.nan, 15, 0], [0.5, np.inf, 0], [0.5, 15, 7], [-0.2, 15, 0]])
    assert schema.rejected(bad).tolist() == [False, True, True, True, True]
    kinds = [v.kind for v in schema.violations(bad)]
    assert kinds == ["nan", "inf", "above_max", "below_min"]
    with pytest.raises(InputViolation, match="feature 2 = 7 is above the maximum") as err:
        schema.check(bad[3:4])
    assert err.value.violations[0].feature == 2
    assert schema.violations(np.zeros((2, 4)))[0].kind == "shape"
    assert schema.violations(np.array([["a", "b", "c"]]))[0].kind == "dtype"
    assert schema.rejected(np.zeros((2, 4))).all()
    # within the margin (10% of the range) is still fine
    assert not schema.rejected(np.array([[1.05, 20.5, -5.5]])).any()


def test_round_trip_and_bad_fits(train: np.ndarray) -> None:
    schema = InputSchema.fit(train)
    again = InputSchema.from_dict(schema.to_dict())
    assert again == schema
    with pytest.raises(UsageError):
        InputSchema.from_dict({"input_shape": [3]})
    with pytest.raises(UsageError):
        InputSchema.fit(np.array([[1.0, np.nan]]))
    with pytest.raises(UsageError):
        InputSchema.fit(np.zeros(5))
    constant = InputSchema.fit(np.ones((10, 2)))
    assert constant.minimum[0] < 1.0 < constant.maximum[0]
