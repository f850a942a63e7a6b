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
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from mlwarden.monitor.profile import ReferenceProfile
from mlwarden.monitor.stats import chi2_two_sample, holm, psi

__all__ = [
    "DriftVerdict",
    "OnlineDriftMonitor",
    "RowStore",
    "SharedDriftMonitor",
    "SlidingHistogram",
    "compare",
    "holm",
    "psi",
]


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


class RowStore(Protocol):
    """A capped list of byte rows shared by several processes (the gateway's Redis store)."""

    def append(self, key: str, entries: list[bytes], keep: int) -> int:
        """Add entries, keep the last ``keep``; return how many were ever added."""

    def window(self, key: str) -> list[bytes]:
        """The kept entries, oldest first."""


class SharedDriftMonitor:
    """:class:`OnlineDriftMonitor` over one window shared by every worker.

    Each input's histogram slots (one byte per feature) go to ``store``; the worker whose
    inputs carry the shared count across a multiple of ``check_every`` reads the window back
    and runs the same tests, so that the decision covers all traffic, not one worker's share.
    """

    KEY = "__drift__"

    def __init__(
        self,
        profile: ReferenceProfile,
        store: RowStore,
        *,
        window: int = 1000,
        check_every: int = 100,
        alpha: float = 0.01,
        min_effect: float = 0.1,
    ) -> None:
        self.profile = profile
        self.store = store
        self.size = window
        self.check_every = check_every
        self.alpha = alpha
        self.min_effect = min_effect
        self.last: DriftVerdict | None = None

    def observe(
        self,
        x: NDArray[np.floating] | Sequence[Sequence[float]],
        bins: NDArray[np.uint8] | None = None,
    ) -> DriftVerdict | None:
        """Add inputs; return a verdict when this call's inputs made a test due."""
        idx = self.profile.bin_index(np.asarray(x)) if bins is None else bins
        seen = self.store.append(self.KEY, [bytes(row.tobytes()) for row in idx], self.size)
        before = seen - len(idx)
        due = seen >= self.size and (
            before < self.size or seen // self.check_every > before // self.check_every
        )
        if not due:
            return None
        rows = self.store.window(self.KEY)
        d = self.profile.n_features
        kept = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), d)
        counts = self.profile.histogram(kept)
        self.last = compare(
            self.profile.counts, counts, alpha=self.alpha, min_effect=self.min_effect
        )
        return self.last
