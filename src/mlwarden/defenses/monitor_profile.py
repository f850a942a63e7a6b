"""What natural traffic looks like to the extraction monitor, learned from training data.

The profile standardises inputs, keeps a reference sample for nearest-neighbour distances
(out-of-distribution radius, near-duplicate radius), per-feature quantile grids (marginal
shift: uniform or grid sampling), coarse cells (coverage), and calibrates every window
statistic by replaying simulated natural streams drawn from held-out training records, so
that thresholds come from data, not from constants tuned on one dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError

Floats = NDArray[np.float64]
_GRID = np.linspace(0.05, 0.95, 10)
#: Windows are stored as float32: ties with a grid value (discrete features) must survive.
_TIE = 1e-4
#: Floor of the natural rates of OOD, near-duplicate and step-like queries.
_MIN_RATE = 0.02


@dataclass(frozen=True)
class MonitorProfile:
    """Training-data statistics and calibrated thresholds (see :meth:`fit`)."""

    center: Floats
    scale: Floats
    reference: NDArray[np.float32]
    ood_radius: float
    dup_radius: float
    grid: Floats
    grid_cdf: Floats
    centroids: Floats
    cell_freq: Floats
    window: int
    rates: dict[str, float]
    limits: dict[str, float]

    @property
    def features(self) -> int:
        return len(self.center)

    def standardise(self, x: NDArray[np.floating]) -> Floats:
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if flat.shape[1] != self.features:
            raise UsageError(
                f"queries have {flat.shape[1]} features; the profile has {self.features}"
            )
        return np.asarray((flat - self.center) / self.scale)

    def nn_distance(self, z: Floats) -> Floats:
        """Distance of each standardised row to the nearest reference record."""
        ref = self.reference.astype(np.float64)
        d2 = (z**2).sum(1)[:, None] - 2 * z @ ref.T + (ref**2).sum(1)[None, :]
        return np.asarray(np.sqrt(np.maximum(d2.min(axis=1), 0.0)))

    def cells(self, z: Floats) -> NDArray[np.int64]:
        c = self.centroids
        d2 = (z**2).sum(1)[:, None] - 2 * z @ c.T + (c**2).sum(1)[None, :]
        return np.asarray(np.argmin(d2, axis=1), dtype=np.int64)

    def _ks(self, z: Floats) -> Floats:
        # Two-sample scaling: the profile's CDF is itself estimated from len(reference) rows.
        m = len(self.reference)
        below = (z[:, :, None] <= self.grid[None, :, :] + _TIE).mean(axis=0)
        return np.asarray(
            np.abs(below - self.grid_cdf).max(axis=1) * np.sqrt(len(z) * m / (len(z) + m))
        )

    def _chi2(self, cells: NDArray[np.int64]) -> float:
        k, m = len(self.cell_freq), len(self.reference)
        expected = self.cell_freq * len(cells)
        observed = np.bincount(cells, minlength=k)
        stat = float(((observed - expected) ** 2 / expected).sum())
        return stat / (1.0 + len(cells) / m)  # the frequencies are estimates too

    def marginal_shift(self, z: Floats) -> float:
        """Mean over features of the scaled KS distance to the training marginals.

        The mean, not the most shifted feature: natural traffic drifts in a few features
        (new users, new sensors), uniform or grid sampling and mixups shift all of them.
        """
        return float(self._ks(z).mean())

    def coverage_shift(self, cells: NDArray[np.int64]) -> float:
        """p-value of the window's cell counts under the training frequencies (chi-square,
        scaled by the over-dispersion natural streams showed in calibration)."""
        from scipy.stats import chi2

        dispersion = self.limits.get("coverage_dispersion", 1.0)
        return float(chi2.sf(self._chi2(cells) / dispersion, len(self.cell_freq) - 1))

    def chi2_ratio(self, cells: NDArray[np.int64]) -> float:
        """Scaled chi-square of the cell counts over its degrees of freedom (calibration)."""
        return self._chi2(cells) / (len(self.cell_freq) - 1)

    @classmethod
    def fit(
        cls,
        x: NDArray[np.floating],
        *,
        window: int = 256,
        reference_size: int = 2000,
        cells: int = 16,
        simulations: int = 30,
        seed: int = 0,
    ) -> MonitorProfile:
        """Learn the profile from training records ``x`` (at least 100).

        Half of ``x`` (up to ``reference_size``) is the reference sample, the other half
        replays simulated natural streams of ``window`` queries to calibrate thresholds.
        """
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if len(flat) < 100 or not np.isfinite(flat).all():
            raise UsageError("the extraction monitor needs at least 100 finite training records")
        rng = np.random.default_rng(seed)
        center = np.median(flat, axis=0)
        std = flat.std(axis=0)
        scale = np.maximum(std, 0.25 * float(np.median(std[std > 0])) if (std > 0).any() else 1.0)
        z = (flat - center) / scale
        perm = rng.permutation(len(z))
        half = len(z) // 2
        ref, held = z[perm[: min(half, reference_size)]], z[perm[half:]]
        base = cls(
            center,
            scale,
            ref.astype(np.float32),
            0.0,
            0.0,
            *_grid(ref),
            *_centroids(ref, cells, rng),
            window,
            {},
            {},
        )
        return _calibrate(base, ref, held, simulations, rng)


def _grid(z: Floats) -> tuple[Floats, Floats]:
    grid = np.quantile(z, _GRID, axis=0).T  # (d, q)
    cdf = (z[:, :, None] <= grid[None, :, :] + _TIE).mean(axis=0)
    return grid, cdf


def _centroids(z: Floats, k: int, rng: np.random.Generator) -> tuple[Floats, Floats]:
    k = max(2, min(k, len(z) // 20))
    c = z[rng.choice(len(z), k, replace=False)]
    for _ in range(15):  # Lloyd's iterations: a coarse partition is all coverage needs
        d2 = (z**2).sum(1)[:, None] - 2 * z @ c.T + (c**2).sum(1)[None, :]
        lab = np.argmin(d2, axis=1)
        c = np.stack([z[lab == j].mean(axis=0) if (lab == j).any() else c[j] for j in range(k)])
    d2 = (z**2).sum(1)[:, None] - 2 * z @ c.T + (c**2).sum(1)[None, :]
    counts = np.bincount(np.argmin(d2, axis=1), minlength=k) + 0.5
    return c, counts / counts.sum()


def _calibrate(
    p: MonitorProfile, ref: Floats, held: Floats, simulations: int, rng: np.random.Generator
) -> MonitorProfile:
    from mlwarden.defenses import extraction_monitor as em

    nn_ref = _loo_nn(ref)
    nn_held = p.nn_distance(held)
    p = _with(
        p,
        ood_radius=float(np.quantile(nn_held, 0.995)),
        dup_radius=float(np.quantile(nn_ref, 0.01)),
    )
    rates: dict[str, list[float]] = {"ood": [], "dup": [], "step": []}
    ks: list[float] = []
    chi: list[float] = []
    normal: list[float] = []
    for _ in range(simulations):
        stream = held[rng.choice(len(held), min(p.window, len(held)), replace=False)]
        state = em.replay(p, stream)
        for name in rates:
            rates[name].append(float(getattr(state, name).mean()))
        for n in range(em.MIN_QUERIES, len(stream) + 1, em.CHECK_EVERY):
            ks.append(p.marginal_shift(stream[max(0, n - p.window) : n]))
            chi.append(p.chi2_ratio(state.cell[max(0, n - p.window) : n]))
            if n >= em.MIN_NORMALITY:
                normal.append(em.window_stats(p, state, n).get("normality", 1.0))
    # Natural traffic is over-dispersed against the ideal nulls (discrete features, cells
    # estimated from the same data): scale the statistics by what natural streams showed.
    limits = {
        # Natural traffic drifts from the training sample (new users); 1.8x the largest
        # calibrated value left room for the drift between digits' writers.
        "marginal": 1.8 * max(ks),
        "coverage_dispersion": max(1.0, float(np.median(chi))),
        "normality": max(min(normal, default=0.9) - 0.05, 0.5),
    }
    return _with(
        p, rates={k: max(2 * float(np.mean(v)), _MIN_RATE) for k, v in rates.items()}, limits=limits
    )


def _loo_nn(z: Floats) -> Floats:
    d2 = (z**2).sum(1)[:, None] - 2 * z @ z.T + (z**2).sum(1)[None, :]
    np.fill_diagonal(d2, np.inf)
    return np.asarray(np.sqrt(np.maximum(d2.min(axis=1), 0.0)))


def _with(p: MonitorProfile, **changes: object) -> MonitorProfile:
    from dataclasses import replace

    return replace(p, **changes)  # type: ignore[arg-type]
