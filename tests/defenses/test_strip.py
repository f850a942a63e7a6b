"""STRIP at its calibrated false-rejection rate, and fine-pruning as a mitigation."""

from __future__ import annotations

import numpy as np
import pytest

from mlwarden.defenses.base import Detector, NotCalibrated
from mlwarden.defenses.fine_pruning import fine_prune
from mlwarden.defenses.strip import StripDetector
from tests.data import _backdoor as bd

pytestmark = pytest.mark.torch


def _split() -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    x = bd.digits().x_test
    return x[:200], x[200:]


def test_strip_rejects_triggered_inputs_at_the_calibrated_frr() -> None:
    calib, held_out = _split()
    detector = StripDetector(bd.backdoored(), target_frr=0.05).fit(calib)
    assert isinstance(detector, Detector)
    assert detector.calibration is not None
    assert detector.calibration.false_positive_rate <= 0.05
    assert detector.is_trojaned(held_out).mean() <= 0.12  # held-out clean inputs
    others = held_out[bd.digits().y_test[200:] != bd.TARGET]
    assert detector.is_trojaned(bd.triggered(others)).mean() >= 0.9
    again = StripDetector(bd.backdoored(), target_frr=0.05).fit(calib)
    assert np.array_equal(again.score(held_out[:20]), detector.score(held_out[:20]))


def test_strip_on_a_clean_model_does_not_flag_the_patch() -> None:
    calib, held_out = _split()
    detector = StripDetector(bd.clean(1), target_frr=0.05).fit(calib)
    assert detector.is_trojaned(bd.triggered(held_out)).mean() < 0.3


def test_strip_needs_clean_inputs_first() -> None:
    detector = StripDetector(bd.clean(1))
    with pytest.raises(NotCalibrated):
        detector.is_trojaned(bd.digits().x_test[:2])


def test_fine_pruning_weakens_the_backdoor_and_keeps_accuracy() -> None:
    model = bd.backdoored()
    d = bd.digits()
    before = bd.attack_success(model)
    result = fine_prune(model, d.x_test, d.y_test, epochs=8, max_drop=0.05)
    assert len(result.pruned) > 0 and result.layer == "2"
    assert bd.attack_success(result.model) < before - 0.3
    assert bd.accuracy(result.model) >= bd.accuracy(model) - 0.05
    assert bd.attack_success(model) == before  # the given model is untouched
    assert result.to_dict()["channels"] == 32 * 8 * 8
