"""Reference profiles and the online drift monitor: no alarm on the same distribution, an
alarm on a real shift, effect-size floor and Holm correction doing their jobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlwarden.errors import InputError, UsageError
from mlwarden.monitor.online import OnlineDriftMonitor, compare, holm, psi
from mlwarden.monitor.profile import ReferenceProfile, load_reference


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.column_stack(
        [rng.normal(0, 1, 6000), rng.exponential(2, 6000), rng.integers(0, 5, 6000)]
    )
    return x[:4000], x[4000:]


def test_profile_round_trips_and_keeps_no_rows(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    train, _ = data
    profile = ReferenceProfile.build(train)
    profile.save(tmp_path / "p.json")
    again = ReferenceProfile.load(tmp_path / "p.json")
    assert (
        np.array_equal(again.counts, profile.counts) and again.score_levels == profile.score_levels
    )
    assert again.counts.sum(axis=1).tolist() == [4000] * 3
    text = (tmp_path / "p.json").read_text()
    assert str(float(train[0, 0])) not in text  # no training row is stored
    assert isinstance(load_reference(tmp_path / "p.json"), ReferenceProfile)
    np.save(tmp_path / "x.npy", train)
    assert load_reference(tmp_path / "x.npy").shape == train.shape


def test_profile_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        ReferenceProfile.build(np.zeros((3, 2)))
    with pytest.raises(UsageError):
        ReferenceProfile.build(np.full((20, 2), np.nan))
    (tmp_path / "bad.json").write_text('{"version": 99}')
    with pytest.raises(InputError):
        ReferenceProfile.load(tmp_path / "bad.json")
    with pytest.raises(InputError):
        load_reference(tmp_path / "missing.npy")


def test_ood_levels_hold_on_held_out_data(data: tuple[np.ndarray, np.ndarray]) -> None:
    train, held = data
    profile = ReferenceProfile.build(train)
    rate = float((profile.log_score(held) < profile.ood_threshold(0.01)).mean())
    assert rate < 0.03
    far = held + np.array([6.0, 0.0, 0.0])
    assert float((profile.log_score(far) < profile.ood_threshold(0.01)).mean()) > 0.9


def test_no_drift_on_the_same_distribution(data: tuple[np.ndarray, np.ndarray]) -> None:
    train, held = data
    monitor = OnlineDriftMonitor(ReferenceProfile.build(train), window=500, check_every=100)
    verdicts = [monitor.observe(held[i : i + 50]) for i in range(0, 2000, 50)]
    ran = [v for v in verdicts if v is not None]
    assert len(ran) >= 10 and not any(v.drifted for v in ran)


def test_drift_in_one_feature_is_found_and_named(data: tuple[np.ndarray, np.ndarray]) -> None:
    train, held = data
    monitor = OnlineDriftMonitor(ReferenceProfile.build(train), window=500, check_every=100)
    shifted = held + np.array([0.0, 1.5, 0.0])
    verdict = None
    for i in range(0, 1000, 50):
        verdict = monitor.observe(shifted[i : i + 50]) or verdict
    assert verdict is not None and verdict.drifted and verdict.features == (1,)


def test_effect_floor_ignores_trivial_but_significant_shifts() -> None:
    ref = np.array([[100_000, 100_000]])
    win = np.array([[50_700, 49_300]])  # a 0.7-point shift: significant at this size, trivial
    significant = compare(ref, win, alpha=0.01, min_effect=0.0)
    floored = compare(ref, win, alpha=0.01, min_effect=0.1)
    assert significant.drifted and not floored.drifted
    assert float(psi(ref, win)[0]) < 0.01


def test_holm_controls_the_family() -> None:
    p = np.array([0.001, 0.02, 0.04, 0.5])
    assert holm(p, 0.05).tolist() == [True, False, False, False]
    assert holm(np.array([0.001, 0.012]), 0.05).tolist() == [True, True]
