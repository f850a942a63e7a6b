"""The histogram statistics of the drift tests against scipy's row-level references.

Every statistic in :mod:`mlwarden.monitor.stats` works on counts; these tests check that the
counts give what scipy computes from the rows: the KS distance exactly for integer data and
within a bin's mass for continuous data, asymptotic p-values, the Wasserstein distance for
shifts, scale changes and mass beyond the reference range, Jensen-Shannon, chi-square, PSI
and Holm's step-down correction.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlwarden.monitor.drift import DriftOptions, detect_drift
from mlwarden.monitor.sketch import NumericSketch, build_profile
from mlwarden.monitor.stats import (
    chi2_two_sample,
    holm,
    js_distance,
    ks_binned,
    psi,
    wasserstein_binned,
)

NO_DOMAIN = DriftOptions(domain_classifier=False)


def _integer_hists(
    a: NDArray[np.int64], b: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Both samples counted per integer value, on one shared range."""
    lo = min(a.min(), b.min())
    width = int(max(a.max(), b.max()) - lo + 1)
    return np.bincount(a - lo, minlength=width), np.bincount(b - lo, minlength=width)


# --- Kolmogorov-Smirnov ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [(3000, 2000, 0), (3000, 2000, 1), (500, 8000, 0), (40, 50, 2), (60_000, 50_000, 0)],
)
def test_ks_binned_equals_scipy_for_integer_data(n: int, m: int, shift: int) -> None:
    rng = np.random.default_rng(n + m + shift)
    a = rng.poisson(6, n)
    b = rng.poisson(6, m) + rng.integers(0, shift + 1, m)
    ref, cur = _integer_hists(a, b)
    stat, pvalue = ks_binned(ref, cur)
    exact = stats.ks_2samp(a, b, method="asymp")
    # Ties: the gap at the bin edges is exactly the gap scipy finds at the data points.
    assert stat == pytest.approx(exact.statistic, abs=1e-12)
    # Up to 10,000 effective rows both use the finite-n Kolmogorov distribution.
    en = n * m / (n + m)
    if en <= 10_000:
        assert pvalue == pytest.approx(exact.pvalue, rel=1e-9, abs=1e-300)
    else:  # the limiting distribution: close to scipy's finite-n one
        assert pvalue == pytest.approx(exact.pvalue, rel=0.05, abs=2e-3)


def test_ks_binned_p_values_agree_with_scipy_at_moderate_shift() -> None:
    """p-values near the decision level, where an error would flip decisions."""
    rng = np.random.default_rng(7)
    a = rng.integers(0, 200, 20_000)
    b = rng.integers(0, 200, 20_000)
    b = np.where(rng.random(20_000) < 0.03, rng.integers(0, 20, 20_000), b)
    ref, cur = _integer_hists(a, b)
    stat, pvalue = ks_binned(ref, cur)
    exact = stats.ks_2samp(a, b, method="asymp")
    assert stat == pytest.approx(exact.statistic, abs=1e-12)
    assert 1e-8 < exact.pvalue < 0.2  # the case really is near the decision level
    assert pvalue == pytest.approx(exact.pvalue, rel=0.05)


@pytest.mark.parametrize(
    ("label", "scale", "shift"),
    [("same", 1.0, 0.0), ("shift", 1.0, 0.15), ("scale", 1.4, 0.0), ("tiny", 1.0, 0.02)],
)
def test_ks_binned_on_profile_bins_within_a_bin_of_scipy(
    label: str, scale: float, shift: float
) -> None:
    rng = np.random.default_rng(len(label))
    a = rng.normal(0, 1, 50_000)
    b = rng.normal(shift, scale, 40_000)
    sketch = build_profile({"x": a}).features[0]
    assert isinstance(sketch, NumericSketch)
    stat, pvalue = ks_binned(sketch.counts, sketch.bin(b).counts)
    exact = stats.ks_2samp(a, b)
    # Off by at most one bin's mass (2048 bins over 6.2 sd: about 1.2/2048 at the mode).
    assert abs(stat - exact.statistic) <= 3 / 2048
    assert np.isclose(pvalue, exact.pvalue, rtol=0.5, atol=0.02) or max(pvalue, exact.pvalue) < 1e-6


def test_ks_binned_empty_sample_is_no_evidence() -> None:
    ref = np.array([5, 5, 0])
    assert ks_binned(ref, np.zeros(3, np.int64)) == (0.0, 1.0)
    assert ks_binned(np.zeros(3, np.int64), ref) == (0.0, 1.0)


# --- Wasserstein -----------------------------------------------------------------------------


def _reference() -> NDArray[np.float64]:
    return np.random.default_rng(11).normal(10.0, 2.0, 60_000)


def _binned_wasserstein(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> float:
    sketch = build_profile({"x": ref}).features[0]
    assert isinstance(sketch, NumericSketch)
    r, c = sketch.reference(), sketch.bin(cur)
    return wasserstein_binned(
        r.counts, c.counts, sketch.edges, (r.below, r.above, c.below, c.above)
    )


def _cases() -> dict[str, NDArray[np.float64]]:
    rng = np.random.default_rng(12)
    n = 50_000
    base = rng.normal(10.0, 2.0, n)
    moved = rng.random(n) < 0.05
    return {
        "mean shift 0.2 sd": base + 0.4,
        "mean shift -1 sd": base - 2.0,
        "scale x1.3": 10.0 + (base - 10.0) * 1.3,
        "scale x0.5": 10.0 + (base - 10.0) * 0.5,
        "5% at +4 sd": np.where(moved, 18.0 + rng.normal(0, 0.2, n), base),
        "5% at -6 sd": np.where(moved, -2.0, base),
        "all beyond the range": base + 20.0,
        "exponential tail": np.where(moved, 16.0 + rng.exponential(5.0, n), base),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_wasserstein_binned_matches_scipy(case: str) -> None:
    ref, cur = _reference(), _cases()[case]
    exact = stats.wasserstein_distance(ref, cur)
    assert _binned_wasserstein(ref, cur) == pytest.approx(exact, rel=0.03, abs=0.01)


@pytest.mark.parametrize("case", ["mean shift 0.2 sd", "scale x1.3", "5% at +4 sd"])
def test_detect_drift_wasserstein_effect_is_scipy_over_reference_std(case: str) -> None:
    ref, cur = _reference(), _cases()[case]
    result = detect_drift({"x": ref}, {"x": cur}, options=NO_DOMAIN)
    effect = result.features[0].effects["wasserstein"]
    exact = stats.wasserstein_distance(ref, cur) / ref.std()
    assert effect == pytest.approx(exact, rel=0.03)


def test_wasserstein_binned_same_sample_is_near_zero() -> None:
    ref = _reference()
    cur = np.random.default_rng(99).normal(10.0, 2.0, 50_000)
    assert _binned_wasserstein(ref, cur) < 0.03  # sampling noise only (scipy: ~0.02)
    assert _binned_wasserstein(ref, ref) == pytest.approx(0.0, abs=1e-12)


# --- Jensen-Shannon, PSI, chi-square ---------------------------------------------------------


def test_js_distance_equals_scipy_base_2() -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 50, (6, 12))
    win = rng.integers(0, 50, (6, 12))
    ref[0, :4] = 0  # categories one side never saw
    win[1, 5:] = 0
    win[2] = ref[2] * 3  # same shares, different size
    ours = js_distance(ref, win)
    expected = [jensenshannon(r, w, base=2) for r, w in zip(ref, win, strict=True)]
    assert ours == pytest.approx(expected, abs=1e-12)
    assert ours[2] == pytest.approx(0.0, abs=1e-7)


def test_js_distance_of_disjoint_supports_is_one() -> None:
    assert js_distance(np.array([[10, 0]]), np.array([[0, 4]]))[0] == pytest.approx(1.0)


def test_psi_hand_computed() -> None:
    value = psi(np.array([[50, 50]]), np.array([[25, 75]]))[0]
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert value == pytest.approx(expected, rel=1e-12)
    assert psi(np.array([[30, 70]]), np.array([[3, 7]]))[0] == pytest.approx(0.0, abs=1e-12)
    # An empty bin on one side is floored, not infinite.
    assert np.isfinite(psi(np.array([[100, 0]]), np.array([[50, 50]]))[0])


def test_chi2_two_sample_equals_scipy_contingency() -> None:
    rng = np.random.default_rng(5)
    ref = rng.integers(5, 400, (4, 7))
    win = rng.integers(5, 400, (4, 7))
    win[3] = ref[3] * 2
    ours = chi2_two_sample(ref, win)
    for i in range(4):
        expected = stats.chi2_contingency(np.vstack([ref[i], win[i]]), correction=False).pvalue
        assert ours[i] == pytest.approx(expected, rel=1e-9)
    assert ours[3] == pytest.approx(1.0)


def test_chi2_two_sample_ignores_empty_categories_and_empty_samples() -> None:
    ref = np.array([[40, 0, 60], [10, 20, 30]])
    win = np.array([[10, 0, 30], [0, 0, 0]])
    pvalues = chi2_two_sample(ref, win)
    expected = stats.chi2_contingency(np.array([[40, 60], [10, 30]]), correction=False).pvalue
    assert pvalues[0] == pytest.approx(expected, rel=1e-9)  # the empty category adds no dof
    assert pvalues[1] == 1.0  # nothing to test


# --- Holm ------------------------------------------------------------------------------------


def test_holm_hand_computed() -> None:
    pvalues = np.array([0.01, 0.04, 0.03, 0.005])
    # Sorted: 0.005 <= .05/4, 0.01 <= .05/3, 0.03 > .05/2: stop; 0.04 is not rejected
    # even though 0.04 <= 0.05/1 (step-down stops at the first failure).
    assert holm(pvalues, 0.05).tolist() == [True, False, False, True]
    assert holm(pvalues, 0.2).tolist() == [True, True, True, True]
    assert not holm(pvalues, 0.001).any()
    assert holm(np.array([]), 0.05).tolist() == []


def test_holm_is_stricter_than_per_test_and_looser_than_bonferroni() -> None:
    pvalues = np.array([0.004, 0.015, 0.03, 0.2])
    rejected = holm(pvalues, 0.05)
    assert rejected.tolist() == [True, True, False, False]  # 0.015 <= 0.05/3 (Bonferroni: no)
    assert (pvalues <= 0.05).sum() > rejected.sum()
    assert (pvalues <= 0.05 / 4).sum() < rejected.sum()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=30))
def test_holm_equals_adjusted_p_value_definition(grid: list[int]) -> None:
    pvalues = np.array(grid, dtype=np.float64) / 1000
    alpha = 0.0537  # never on a k/1000 grid boundary: no float ties to argue about
    m = len(pvalues)
    order = np.argsort(pvalues, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * pvalues[order]))
    expected = np.zeros(m, bool)
    expected[order] = adjusted <= alpha
    assert holm(pvalues, alpha).tolist() == expected.tolist()
