"""Two-stage poison detection: which class looks poisoned, then which samples inside it.

Poison (a backdoor's triggered samples, flipped labels) is a group of samples carrying label
``t`` whose *content* belongs to other classes. Per class:

1. Candidate groups come from the class's representations (a model's penultimate layer, or
   the raw features): k-means splits of the top principal components (activation clustering)
   and a split of the projection on the top singular vector (spectral signature).
2. A trigger makes poisoned samples look alike (each other's nearest neighbours), so for each
   candidate the few input features that set it apart from all other data (effect size above
   ``effect_size``: the trigger pixels, a stamped feature) are masked.
3. In that masked input space a leave-one-out k-nearest-neighbour vote asks every sample of
   the class whether its neighbours share its label; samples whose own-label share is below
   ``vote`` are flagged, and the flagged ones are left out of the neighbour pool and the vote
   repeated, so a dense group of poison cannot vouch for itself.

A class is suspected when it has many more flagged samples than the other classes' rate
predicts (binomial test). Scores and per-class statistics (silhouette, spectral share,
IsolationForest outlier rate: the guide's baseline) come back for the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.data.representations import Floats, standardize
from mlwarden.errors import UsageError

Ints = NDArray[np.int64]


@dataclass(frozen=True)
class PoisonOptions:
    """Knobs of :func:`detect_poison` (defaults measured in ``benchmarks/poison_bench.py``)."""

    neighbors: int = 20
    local: int = 5
    vote: float = 0.3
    effect_size: float = 2.0
    max_masked: float = 0.25
    iterations: int = 8
    alpha: float = 1e-8
    min_flagged: int = 5
    min_rate: float = 0.03
    base_rate: float = 0.02
    components: int = 10
    seed: int = 0


@dataclass(frozen=True)
class ClassStats:
    """What the detector saw in one class."""

    label: int
    count: int
    flagged: int
    p_value: float
    suspected: bool
    cluster_size: int
    cluster_foreign: float
    masked_features: tuple[int, ...]
    silhouette: float
    spectral_share: float
    isolation_rate: float

    @property
    def rate(self) -> float:
        return self.flagged / self.count if self.count else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.label,
            "count": self.count,
            "flagged": self.flagged,
            "rate": round(self.rate, 4),
            "p_value": float(f"{self.p_value:.3g}"),
            "suspected": self.suspected,
            "cluster_size": self.cluster_size,
            "cluster_foreign": round(self.cluster_foreign, 4),
            "masked_features": list(self.masked_features[:16]),
            "silhouette": round(self.silhouette, 4),
            "spectral_share": round(self.spectral_share, 4),
            "isolation_rate": round(self.isolation_rate, 4),
        }


@dataclass(frozen=True)
class PoisonResult:
    """Suspected classes, flagged samples and the evidence behind them.

    Attributes:
        classes: statistics per class, in label order.
        flagged: indices of the samples flagged in suspected classes (sorted).
        scores: per sample, ``1 - own-label share`` of its neighbours in its class's masked
            space (higher = more suspicious).
        isolation_forest: indices the IsolationForest baseline calls outliers.
        source: where representations came from (``raw``, ``embed``, ``model:<layer>``).
    """

    classes: tuple[ClassStats, ...]
    flagged: Ints
    scores: Floats
    isolation_forest: Ints
    source: str
    options: PoisonOptions = field(default_factory=PoisonOptions)

    @property
    def suspected(self) -> tuple[int, ...]:
        """Suspected classes, most significant first."""
        hits = [c for c in self.classes if c.suspected]
        return tuple(c.label for c in sorted(hits, key=lambda c: c.p_value))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "suspected_classes": list(self.suspected),
            "flagged": len(self.flagged),
            "flagged_sample": [int(i) for i in self.flagged[:50]],
            "isolation_forest_outliers": len(self.isolation_forest),
            "classes": [c.to_dict() for c in self.classes],
        }


#: Up to this many samples, pairwise distances are computed once and reused for every mask.
_DENSE_LIMIT = 4000


class _Neighbours:
    """Leave-one-out k-nearest-neighbour label votes in a (feature-masked) input space."""

    def __init__(self, space: Floats, y: Ints, k: int, local: int) -> None:
        self.space, self.y, self.k, self.local = space, y, k, local
        self._dense: Floats | None = None
        if len(space) <= _DENSE_LIMIT:
            sq = np.einsum("ij,ij->i", space, space)
            self._dense = np.maximum(sq[:, None] + sq[None, :] - 2.0 * space @ space.T, 0.0)

    def votes(self, keep: NDArray[np.bool_], rows: Ints, pool: NDArray[np.bool_]) -> Floats:
        """Own-label share among each row's ``k`` nearest pool members (itself left out),
        or among its ``local`` nearest when that is higher: a sample is only as foreign as
        both neighbourhoods say (a natural sample near a class boundary still has
        own-label samples right next to it; a flipped or triggered one does not)."""
        members = np.flatnonzero(pool)
        k = min(self.k, len(members) - 1)
        if k < 1:
            return np.ones(len(rows))
        if self._dense is None:
            near = self._sparse_near(keep, rows, members, k)
        else:
            dist = self._dense[np.ix_(rows, members)]
            for j in np.flatnonzero(~keep):
                col = self.space[:, j]
                dist = dist - (col[rows][:, None] - col[members][None, :]) ** 2
            dist[members[None, :] == rows[:, None]] = np.inf
            part = np.argpartition(dist, k - 1, axis=1)[:, :k]
            order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1, kind="stable")
            near = members[np.take_along_axis(part, order, axis=1)]
        same = self.y[near] == self.y[rows][:, None]
        local = max(1, min(self.local, k))
        out: Floats = np.maximum(same.mean(axis=1), same[:, :local].mean(axis=1))
        return out

    def _sparse_near(self, keep: NDArray[np.bool_], rows: Ints, members: Ints, k: int) -> Ints:
        from sklearn.neighbors import NearestNeighbors

        space = self.space[:, keep]
        index = NearestNeighbors(n_neighbors=k + 1).fit(space[members])
        near = members[index.kneighbors(space[rows], return_distance=False)]
        # Move the row itself (when it is in the pool) to the end, then keep the first k.
        order = np.argsort(near == rows[:, None], axis=1, kind="stable")
        out: Ints = np.take_along_axis(near, order, axis=1)[:, :k]
        return out


@dataclass(frozen=True)
class _Split:
    """Candidate groups of one class, and the 2-means view of it (activation clustering)."""

    groups: list[NDArray[np.bool_]]
    silhouette: float
    spectral_share: float


def _split(reps: Floats, options: PoisonOptions) -> _Split:
    """Groups of a class that may be its poison: k-means splits of the top principal
    components (activation clustering) and a split along the top one (spectral signature)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    centred = reps - reps.mean(axis=0)
    if len(centred) < 6:
        return _Split([], 0.0, 0.0)
    dims = max(1, min(options.components, centred.shape[1], len(centred) - 1))
    pca = PCA(n_components=dims, random_state=options.seed).fit(centred)
    comps = pca.transform(centred)
    share = float(pca.explained_variance_ratio_[0])
    groups: list[NDArray[np.bool_]] = []
    silhouette = 0.0
    for clusters in (2, 3, 4):
        if len(centred) > clusters * 2:
            km = KMeans(clusters, n_init=3, random_state=options.seed).fit_predict(comps)
            groups += [km == a for a in range(clusters)]
            if clusters == 2 and len(set(km.tolist())) == 2:
                silhouette = float(silhouette_score(comps, km))
    split = KMeans(2, n_init=3, random_state=options.seed).fit_predict(comps[:, :1])
    groups += [split == 0, split == 1]
    return _Split([g for g in groups if 2 <= g.sum() < len(g)], silhouette, share)


def _mask(space: Floats, group: Ints, options: PoisonOptions) -> NDArray[np.bool_]:
    """Features kept: all but those that set ``group`` apart from the rest (its trigger)."""
    rest = np.ones(len(space), dtype=bool)
    rest[group] = False
    spread = np.maximum(space[rest].std(axis=0), 1e-6)
    effect = np.abs(space[group].mean(axis=0) - space[rest].mean(axis=0)) / spread
    count = min(int((effect > options.effect_size).sum()), int(options.max_masked * len(effect)))
    keep = np.ones(space.shape[1], dtype=bool)
    keep[np.argsort(-effect)[:count]] = False
    return keep


@dataclass(frozen=True)
class _ClassScan:
    flagged: Ints
    scores: Floats
    group_size: int
    foreign: float
    masked: tuple[int, ...]
    silhouette: float
    spectral_share: float


def _scan_class(
    nb: _Neighbours, members: Ints, reps: Floats | None, o: PoisonOptions
) -> _ClassScan:
    space = nb.space
    everyone = np.ones(len(space), dtype=bool)
    best: tuple[float, int, NDArray[np.bool_]] = (-1.0, 0, np.ones(space.shape[1], dtype=bool))
    # Candidates from the model's view and from the raw features: a trigger the model's
    # representation blurs can still stand out in the inputs, and vice versa.
    split = _split(space[members] if reps is None else reps, o)
    groups = split.groups if reps is None else [*split.groups, *_split(space[members], o).groups]
    for group in groups:
        rows = members[group]
        keep = _mask(space, rows, o)
        votes = nb.votes(keep, rows, everyone)
        foreign = float((votes < o.vote).mean())
        if (foreign, len(rows)) > best[:2]:
            best = (foreign, len(rows), keep)
    foreign, size, keep = best
    pool = everyone.copy()
    votes = np.ones(len(members))
    for _ in range(max(1, o.iterations)):
        votes = nb.votes(keep, members, pool)
        new_pool = everyone.copy()
        new_pool[members[votes < o.vote]] = False
        if np.array_equal(new_pool, pool):
            break
        pool = new_pool
    masked = tuple(int(i) for i in np.flatnonzero(~keep))
    return _ClassScan(
        members[votes < o.vote],
        1.0 - votes,
        size,
        max(foreign, 0.0),
        masked,
        split.silhouette,
        split.spectral_share,
    )


def isolation_outliers(reps: Floats, seed: int = 0) -> Ints:
    """Indices that scikit-learn's IsolationForest (``contamination="auto"``) calls outliers:
    the OWASP guide's outlier-removal baseline."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(random_state=seed, n_estimators=100).fit(reps)
    return np.flatnonzero(forest.predict(reps) == -1).astype(np.int64)


def _p_value(flagged: int, count: int, rate: float) -> float:
    from scipy.stats import binom

    return float(binom.sf(flagged - 1, count, rate)) if flagged else 1.0


def detect_poison(
    x: NDArray[Any],
    y: NDArray[Any],
    *,
    representations: Floats | None = None,
    source: str = "raw",
    options: PoisonOptions | None = None,
) -> PoisonResult:
    """Find the class that looks poisoned and the poisoned samples inside it.

    Args:
        x: the training inputs ``(n, ...)`` (any shape; flattened for distances).
        y: their labels ``(n,)``.
        representations: ``(n, d)`` vectors from a model (see
            :func:`mlwarden.data.representations.model_representations`); ``None`` = raw features.
        source: where ``representations`` came from, for the report.
        options: detector settings.

    Raises:
        UsageError: fewer than two classes, or ``x`` and ``y`` disagree in length.
    """
    o = options or PoisonOptions()
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    space = standardize(x)
    if len(space) != len(labels) or len(np.unique(labels)) < 2:
        raise UsageError("poison detection needs labelled samples of at least two classes")
    reps = None if representations is None else np.asarray(representations, dtype=np.float64)
    forest = isolation_outliers(space if reps is None else reps, o.seed)
    in_forest = np.zeros(len(labels), dtype=bool)
    in_forest[forest] = True
    nb = _Neighbours(space, labels, o.neighbors, o.local)
    scans: dict[int, _ClassScan] = {}
    scores = np.zeros(len(labels))
    for c in np.unique(labels).tolist():
        members = np.flatnonzero(labels == c)
        scans[c] = _scan_class(nb, members, None if reps is None else reps[members], o)
        scores[members] = scans[c].scores
    stats = _statistics(scans, labels, in_forest, o)
    hits = [s.label for s in stats if s.suspected]
    flagged = np.sort(np.concatenate([scans[c].flagged for c in hits] or [np.zeros(0, np.int64)]))
    return PoisonResult(stats, flagged.astype(np.int64), scores, forest, source, o)


def _statistics(
    scans: dict[int, _ClassScan],
    y: Ints,
    in_forest: NDArray[np.bool_],
    o: PoisonOptions,
) -> tuple[ClassStats, ...]:
    total = sum(len(s.flagged) for s in scans.values())
    out = []
    for c, scan in scans.items():
        members = np.flatnonzero(y == c)
        n, hits = len(members), len(scan.flagged)
        # The other classes' flag rate is what natural label noise looks like here; real
        # data sets have a few percent of ambiguous samples in some classes, hence a floor.
        base = max((total - hits + 1) / (len(y) - n + 2), o.base_rate)
        p = _p_value(hits, n, base)
        suspected = p < o.alpha and hits >= o.min_flagged and hits / n >= o.min_rate
        out.append(
            ClassStats(
                label=int(c),
                count=n,
                flagged=hits,
                p_value=p,
                suspected=bool(suspected),
                cluster_size=scan.group_size,
                cluster_foreign=scan.foreign,
                masked_features=scan.masked,
                silhouette=scan.silhouette,
                spectral_share=scan.spectral_share,
                isolation_rate=float(in_forest[members].mean()),
            )
        )
    return tuple(out)
