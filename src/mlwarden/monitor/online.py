"""Online drift: a sliding window of recent inputs tested, feature by feature, against a profile.

Each feature's window histogram is compared with the reference histogram by a two-sample
chi-square test (both sample sizes enter the statistic), the p-values are corrected for the
number of features with Holm's step-down method, and a feature counts as drifted only when
its correction-surviving test is backed by an effect size above a floor (the population
stability index, PSI): with thousands of inputs a trivial shift is significant, and the
floor keeps it from alerting. :func:`compare` is shared with the extraction monitor (a
key's own queries against the profile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlwarden.monitor.profile import ReferenceProfile

_EPS = 1e-4


@dataclass(frozen=True)
class DriftVerdict:
    """The result of one window test.

    Attributes:
        drifted: at least one feature drifted (significant after Holm and PSI >= floor).
        features: indices of the drifted features.
        psi: per-feature population stability index.
        pvalues: per-feature chi-square p-values (uncorrected).
        n: inputs in the window.
    """

    drifted: bool
    features: tuple[int, ...]
    psi: NDArray[np.float64]
    pvalues: NDArray[np.float64]
    n: int

    @property
    def max_psi(self) -> float:
        return float(self.psi.max()) if len(self.psi) else 0.0


def chi2_two_sample(ref: NDArray[np.int64], win: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-row p-value that two ``(d, bins)`` histograms come from one distribution."""
    from scipy.stats import chi2

    ref = ref.astype(np.float64)
    win = win.astype(np.float64)
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
    ok = (dof > 0) & (n_win[:, 0] > 0)
    pvalues[ok] = chi2.sf(stat[ok], dof[ok])
    return pvalues


def psi(ref: NDArray[np.int64], win: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-row population stability index of window ``win`` against reference ``ref``."""
    r = ref / np.maximum(ref.sum(axis=1, keepdims=True), 1)
    w = win / np.maximum(win.sum(axis=1, keepdims=True), 1)
    r = np.maximum(r, _EPS)
    w = np.maximum(w, _EPS)
    out: NDArray[np.float64] = ((w - r) * np.log(w / r)).sum(axis=1)
    return out


def holm(pvalues: NDArray[np.float64], alpha: float) -> NDArray[np.bool_]:
    """Holm-Bonferroni step-down: which hypotheses are rejected at family-wise level ``alpha``."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    rejected = np.zeros(m, dtype=bool)
    for rank, index in enumerate(order):
        if pvalues[index] > alpha / (m - rank):
            break
        rejected[index] = True
    return rejected


def compare(
    reference: NDArray[np.int64], window: NDArray[np.int64], *, alpha: float, min_effect: float
) -> DriftVerdict:
    """Test window histograms against reference histograms (both ``(d, bins)``)."""
    pvalues = chi2_two_sample(reference, window)
    effect = psi(reference, window)
    drifted = holm(pvalues, alpha) & (effect >= min_effect)
    features = tuple(int(i) for i in np.flatnonzero(drifted))
    return DriftVerdict(bool(features), features, effect, pvalues, int(window[0].sum()))


class SlidingHistogram:
    """Per-feature histogram of the last ``size`` rows (a ring buffer of bin indices).

    Args:
        n_features: features per row.
        n_bins: histogram slots per feature.
        size: rows kept.
    """

    def __init__(self, n_features: int, n_bins: int, size: int) -> None:
        self.size = size
        self._rows = np.zeros((size, n_features), dtype=np.uint8)
        self._counts = np.zeros((n_features, n_bins), dtype=np.int64)
        self._features = np.arange(n_features)
        self._next = 0
        self.filled = 0
        self.seen = 0

    @property
    def counts(self) -> NDArray[np.int64]:
        return self._counts

    def add(self, bins: NDArray[np.uint8]) -> None:
        """Add rows of bin indices (``(n, d)``), evicting the oldest beyond ``size``."""
        # Each row holds one slot per feature, so plain fancy-index updates never collide.
        for row in bins[-self.size :]:
            if self.filled == self.size:
                self._counts[self._features, self._rows[self._next]] -= 1
            else:
                self.filled += 1
            self._rows[self._next] = row
            self._counts[self._features, row] += 1
            self._next = (self._next + 1) % self.size
        self.seen += len(bins)


class OnlineDriftMonitor:
    """Sliding-window drift tests of incoming inputs against a reference profile.

    Args:
        profile: the training data's profile.
        window: recent inputs kept.
        check_every: run the tests after every this many inputs (once the window is full).
        alpha: family-wise false-alarm rate per test, across features (Holm).
        min_effect: PSI a feature must reach to count as drifted.
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        *,
        window: int = 1000,
        check_every: int = 100,
        alpha: float = 0.01,
        min_effect: float = 0.1,
    ) -> None:
        self.profile = profile
        self.window = SlidingHistogram(profile.n_features, profile.n_bins, window)
        self.check_every = check_every
        self.alpha = alpha
        self.min_effect = min_effect
        self.last: DriftVerdict | None = None
        self._due = window

    def observe(
        self,
        x: NDArray[np.floating] | Sequence[Sequence[float]],
        bins: NDArray[np.uint8] | None = None,
    ) -> DriftVerdict | None:
        """Add inputs (or their ``bins`` from :meth:`ReferenceProfile.bin_index`); return a
        verdict when a test ran, else ``None``."""
        self.window.add(self.profile.bin_index(np.asarray(x)) if bins is None else bins)
        if self.window.seen < self._due:
            return None
        self._due = self.window.seen + self.check_every
        self.last = compare(
            self.profile.counts, self.window.counts, alpha=self.alpha, min_effect=self.min_effect
        )
        return self.last
