"""Multivariate drift: can a classifier tell current rows from reference rows?

Per-column tests miss a change in how columns relate (a correlation that flips, a new
combination of values) when every marginal stays put. A gradient-boosted tree model is
trained to separate a sample of reference rows from a sample of current rows; its out-of-
fold AUC is 0.5 when they are exchangeable. The p-value is the Mann-Whitney normal
approximation of the AUC under that null, and drift needs both significance and an AUC
floor. The largest correlation changes between numeric columns are reported as a hint of
what moved.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.monitor.frame import Frame

_MAX_CODES = 250  # HistGradientBoosting's categorical features take < 255 codes


@dataclass(frozen=True)
class DomainCheck:
    """Result of the domain classifier.

    Attributes:
        auc: cross-validated AUC of telling current rows from reference rows.
        pvalue: one-sided p-value of ``auc`` against 0.5.
        rows: rows sampled per side.
        drifted: significant and ``auc >= min_auc``.
        pairs: largest correlation changes ``(a, b, reference r, current r)``.
    """

    auc: float
    pvalue: float
    rows: int
    drifted: bool
    pairs: tuple[tuple[str, str, float, float], ...]


def domain_check(
    ref: Frame,
    cur: Frame,
    names: list[str],
    rows: int,
    min_auc: float,
    alpha: float,
    seed: int,
) -> DomainCheck:
    """Train the domain classifier on up to ``rows`` rows per side of columns ``names``."""
    from scipy.stats import norm
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    n = min(rows, ref.rows, cur.rows)
    pick_ref = np.sort(rng.choice(ref.rows, n, replace=False))
    pick_cur = np.sort(rng.choice(cur.rows, n, replace=False))
    x_ref, x_cur, categorical = _matrices(ref, cur, names, pick_ref, pick_cur)
    x = np.vstack([x_ref, x_cur])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    model = HistGradientBoostingClassifier(
        max_iter=60,
        max_leaf_nodes=15,
        early_stopping=False,
        categorical_features=categorical if categorical.any() else None,
        random_state=seed,
    )
    folds = StratifiedKFold(2, shuffle=True, random_state=seed)
    # One thread: on a busy machine OpenMP's spinning threads made this 100x slower.
    with threadpool_limits(1):
        scores = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, scores))
    z = (auc - 0.5) / np.sqrt((2 * n + 1) / (12.0 * n * n))
    pvalue = float(norm.sf(z))
    drifted = pvalue < alpha and auc >= min_auc
    return DomainCheck(auc, pvalue, n, drifted, _pairs(x_ref, x_cur, names, categorical))


def _matrices(
    ref: Frame,
    cur: Frame,
    names: list[str],
    pick_ref: NDArray[np.intp],
    pick_cur: NDArray[np.intp],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    cols_ref, cols_cur, categorical = [], [], []
    for name in names:
        a, b = ref.column(name)[pick_ref], cur.column(name)[pick_cur]
        if a.dtype.kind == "f":
            cols_ref.append(a)
            cols_cur.append(b)
            categorical.append(False)
            continue
        codes = _codes(np.concatenate([a, b]))
        cols_ref.append(codes[: len(a)])
        cols_cur.append(codes[len(a) :])
        categorical.append(True)
    return np.column_stack(cols_ref), np.column_stack(cols_cur), np.array(categorical)


def _codes(values: NDArray[Any]) -> NDArray[np.float64]:
    """Category codes by frequency; the rarest beyond the cap share one code, None is NaN."""
    text = [None if v is None else str(v) for v in values.tolist()]
    ranked: dict[str, int] = {}
    for v in text:
        if v is not None:
            ranked[v] = ranked.get(v, 0) + 1
    order = sorted(ranked, key=lambda c: (-ranked[c], c))
    code = {c: float(min(i, _MAX_CODES - 1)) for i, c in enumerate(order)}
    return np.array([np.nan if v is None else code[v] for v in text], dtype=np.float64)


def _pairs(
    a: NDArray[np.float64], b: NDArray[np.float64], names: list[str], categorical: NDArray[Any]
) -> tuple[tuple[str, str, float, float], ...]:
    numeric = [i for i in range(len(names)) if not categorical[i]]
    if len(numeric) < 2:
        return ()
    ca, cb = _corr(a[:, numeric]), _corr(b[:, numeric])
    gap = np.abs(ca - cb)
    upper = np.triu_indices(len(numeric), 1)
    order = np.argsort(-gap[upper])[:3]
    out = []
    for k in order:
        i, j = upper[0][k], upper[1][k]
        if gap[i, j] >= 0.1:
            out.append((names[numeric[i]], names[numeric[j]], float(ca[i, j]), float(cb[i, j])))
    return tuple(out)


def _corr(x: NDArray[np.float64]) -> NDArray[np.float64]:
    with warnings.catch_warnings():  # an all-missing column: its mean is NaN, then 0
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(x, axis=0)
    filled = np.nan_to_num(np.where(np.isnan(x), means, x))
    std = filled.std(axis=0)
    std[std == 0] = 1.0
    z = (filled - filled.mean(axis=0)) / std
    out: NDArray[np.float64] = z.T @ z / len(z)
    return out
