"""Two-sample drift statistics on histograms, shared by the offline and online drift tests.

Everything here works on counts, not on rows: a reference is summarised once (a profile)
and a current sample is binned on the reference's bins, so a test costs one pass over the
current data whatever the reference's size. Rows of a ``(d, bins)`` array are features.

- :func:`chi2_two_sample`: p-value that two histograms come from one distribution;
- :func:`ks_binned`: Kolmogorov-Smirnov distance at the bin edges and its p-value (exact
  for data with at most one distinct value per bin, otherwise off by at most one bin's mass);
- :func:`wasserstein_binned`: the 1-Wasserstein distance from the CDFs (with tail terms);
- :func:`psi` (population stability index) and :func:`js_distance` (Jensen-Shannon
  distance, base 2, in [0, 1]): effect sizes;
- :func:`holm`: Holm-Bonferroni correction across features.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_EPS = 1e-4


def chi2_two_sample(ref: NDArray[np.int64], win: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-row p-value that two ``(d, bins)`` histograms come from one distribution."""
    from scipy.stats import chi2

    ref = np.atleast_2d(ref).astype(np.float64)
    win = np.atleast_2d(win).astype(np.float64)
    n_ref = ref.sum(axis=1, keepdims=True)
    n_win = win.sum(axis=1, keepdims=True)
    both = ref + win
    total = np.maximum(n_ref + n_win, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e_ref = both * n_ref / total
        e_win = both * n_win / total
        terms = np.where(both > 0, (ref - e_ref) ** 2 / e_ref + (win - e_win) ** 2 / e_win, 0.0)
    stat = np.nan_to_num(terms, nan=0.0, posinf=0.0).sum(axis=1)
    dof = (both > 0).sum(axis=1) - 1
    pvalues = np.ones(len(ref))
    ok = (dof > 0) & (n_win[:, 0] > 0) & (n_ref[:, 0] > 0)
    pvalues[ok] = chi2.sf(stat[ok], dof[ok])
    return pvalues


def _shares(counts: NDArray[np.int64]) -> NDArray[np.float64]:
    counts = np.atleast_2d(counts).astype(np.float64)
    out: NDArray[np.float64] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return out


def psi(ref: NDArray[np.int64], win: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-row population stability index of window ``win`` against reference ``ref``."""
    r = np.maximum(_shares(ref), _EPS)
    w = np.maximum(_shares(win), _EPS)
    out: NDArray[np.float64] = ((w - r) * np.log(w / r)).sum(axis=1)
    return out


def js_distance(ref: NDArray[np.int64], win: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-row Jensen-Shannon distance (square root of the divergence, base 2; 0..1)."""
    r, w = _shares(ref), _shares(win)
    m = (r + w) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_r = np.where(r > 0, r * np.log2(r / m), 0.0).sum(axis=1)
        kl_w = np.where(w > 0, w * np.log2(w / m), 0.0).sum(axis=1)
    out: NDArray[np.float64] = np.sqrt(np.clip((kl_r + kl_w) / 2, 0.0, 1.0))
    return out


def ks_binned(ref: NDArray[np.int64], cur: NDArray[np.int64]) -> tuple[float, float]:
    """KS distance between two histograms on the same bins, and its asymptotic p-value.

    The distance is taken at the bin edges, so ties (discrete values) are handled the
    way the exact two-sample test handles them; the p-value is the two-sided asymptotic one
    (scipy's ``ks_2samp(method="asymp")``; the limiting Kolmogorov distribution beyond
    10,000 effective rows, where it agrees and costs microseconds), conservative with ties.
    """
    from scipy.stats import kstwo, kstwobign

    n, m = int(ref.sum()), int(cur.sum())
    if n == 0 or m == 0:
        return 0.0, 1.0
    gap = np.abs(np.cumsum(ref) / n - np.cumsum(cur) / m)
    stat = float(gap.max())
    en = n * m / (n + m)
    if en > 10_000:
        return stat, float(kstwobign.sf(stat * np.sqrt(en)))
    return stat, float(kstwo.sf(stat, max(round(en), 1)))


def wasserstein_binned(
    ref: NDArray[np.int64],
    cur: NDArray[np.int64],
    edges: NDArray[np.float64],
    tails: tuple[float, float, float, float],
) -> float:
    """1-Wasserstein distance of two histograms on ``edges`` (inner bins + two tails).

    ``ref`` and ``cur`` have ``len(edges) + 1`` slots: below ``edges[0]``, the inner bins,
    above ``edges[-1]``. Inside the range the distance is the area between the CDFs at the
    bin edges; each tail adds the difference of ``E[(edges[0] - X)+]`` (below) and
    ``E[(X - edges[-1])+]`` (above), given in ``tails`` as (reference below, reference above,
    current below, current above) sums of those excesses.
    """
    n, m = max(int(ref.sum()), 1), max(int(cur.sum()), 1)
    # Trapezoids of the signed CDF difference over each bin (a shift moves mass smoothly).
    gap = np.cumsum(ref[:-1]) / n - np.cumsum(cur[:-1]) / m
    inner = float((np.abs(gap[:-1] + gap[1:]) / 2 * np.diff(edges)).sum())
    below = abs(tails[0] / n - tails[2] / m)
    above = abs(tails[1] / n - tails[3] / m)
    return inner + below + above


def holm(pvalues: NDArray[np.float64], alpha: float) -> NDArray[np.bool_]:
    """Holm-Bonferroni step-down: which hypotheses are rejected at family-wise level ``alpha``."""
    m = len(pvalues)
    order = np.argsort(pvalues, kind="stable")
    rejected = np.zeros(m, dtype=bool)
    for rank, index in enumerate(order):
        if pvalues[index] > alpha / (m - rank):
            break
        rejected[index] = True
    return rejected
