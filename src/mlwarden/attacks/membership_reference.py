"""Reference-model membership attacks: LiRA (online and offline) and RMIA.

Threshold attacks compare a record's loss with one global threshold; hard records (outliers,
mislabelled points) look like non-members and easy ones like members, so at low false
positive rates they see almost nothing. Reference models trained without (and with) each
record tell how the model would score it either way, which is what LiRA and RMIA measure.

- *Online* references are trained on random halves of the candidate pool (members,
  non-members and population): each record is IN about half of them and OUT of the rest.
  They give LiRA online (Gaussian likelihood ratio IN vs OUT), LiRA offline (OUT models only)
  and RMIA (likelihood of the record under the target vs under the references).
- *Offline* references are trained on population data only (the records are never IN).

Each reference is an independent fit: joblib processes, one BLAS thread each.

References: Carlini et al., "Membership Inference Attacks From First Principles" (2022);
Zarifzadeh et al., "Low-Cost High-Power Membership Inference Attacks" (2024).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError

_TINY = 1e-30
#: Below this many OUT (or IN) references per record, LiRA uses one pooled variance.
_GLOBAL_VARIANCE_BELOW = 64

Floats = NDArray[np.float64]


class EstimatorTrainer:
    """Trains a fresh copy of a scikit-learn estimator (picklable: runs in worker processes).

    Args:
        estimator: an unfitted or fitted estimator; each call fits ``sklearn.base.clone`` of it.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def __call__(self, x: NDArray[np.float32], y: NDArray[np.int64], seed: int) -> Any:
        from sklearn.base import clone

        model = clone(self.estimator)
        if "random_state" in model.get_params():
            model.set_params(random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning of short reference fits
            model.fit(x.reshape(len(x), -1), y)
        return model


def default_trainer(model: object) -> tuple[EstimatorTrainer, str]:
    """The target's own estimator when it is scikit-learn, else a 128-unit MLP (and why)."""
    estimator = getattr(model, "estimator", None)
    if estimator is not None and hasattr(estimator, "fit"):
        return EstimatorTrainer(estimator), f"clone of the target ({type(estimator).__name__})"
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, random_state=0)
    return EstimatorTrainer(mlp), "MLP(128) stand-in: the target's architecture is unknown"


Trainer = Callable[[NDArray[np.float32], NDArray[np.int64], int], Any]


def _true_class_stats(proba: NDArray[np.floating], y: NDArray[np.int64]) -> tuple[Floats, Floats]:
    """(p_y, phi) per record: phi = log p_y - log sum_{j != y} p_j (stable logit)."""
    p = np.asarray(proba, dtype=np.float64)
    rows = np.arange(len(y))
    p_true = p[rows, y]
    # Summing the other classes (not 1 - p_y) keeps precision where p_y rounds to 1.
    others = _others(p, y)
    phi = np.log(p_true + _TINY) - np.log(others + _TINY)
    return p_true, phi


def _others(p: Floats, y: NDArray[np.int64]) -> Floats:
    mask = np.ones(p.shape, dtype=bool)
    mask[np.arange(len(y)), y] = False
    return np.asarray(np.where(mask, p, 0.0).sum(axis=1))


def _fit_reference(
    trainer: Trainer,
    x_train: NDArray[np.float32],
    y_train: NDArray[np.int64],
    seed: int,
    x_eval: NDArray[np.float32],
    y_eval: NDArray[np.int64],
    n_classes: int,
) -> tuple[Floats, Floats]:
    from mlwarden.models.threads import single_thread

    single_thread()
    fitted = trainer(x_train, y_train, seed)
    raw = np.asarray(fitted.predict_proba(x_eval.reshape(len(x_eval), -1)), dtype=np.float64)
    proba = np.zeros((len(x_eval), n_classes))
    proba[:, np.asarray(fitted.classes_, dtype=np.int64)] = raw
    return _true_class_stats(proba, y_eval)


@dataclass(frozen=True)
class ReferenceStats:
    """Per-record statistics of K reference models on the evaluated records.

    Attributes:
        p_true: ``(K, n)`` probability of the true class under each reference.
        phi: ``(K, n)`` its stable logit.
        inside: ``(K, n)`` whether the record was in that reference's training data.
    """

    p_true: Floats
    phi: Floats
    inside: NDArray[np.bool_]


def train_references(
    trainer: Trainer,
    x_pool: NDArray[np.float32],
    y_pool: NDArray[np.int64],
    x_eval: NDArray[np.float32],
    y_eval: NDArray[np.int64],
    *,
    count: int,
    n_classes: int,
    train_size: int,
    eval_in_pool: NDArray[np.intp] | None,
    seed: int = 0,
    jobs: int = 0,
) -> ReferenceStats:
    """Fit ``count`` references on random subsets of the pool and score the evaluated records.

    Args:
        trainer: ``(x, y, seed) -> fitted`` model with ``predict_proba`` and ``classes_``.
        x_pool, y_pool: the data references are trained on (random subsets of it).
        x_eval, y_eval: the records to score.
        count: number of references K.
        n_classes: classes of the target.
        train_size: records per reference.
        eval_in_pool: position of each evaluated record in the pool (online), or ``None``
            when the evaluated records are not in the pool (offline).
        seed: seed of the subsets and of each fit.
        jobs: processes (0 = one per core).
    """
    from joblib import Parallel, delayed

    if count < 1:
        raise UsageError("reference attacks need at least one reference model")
    rng = np.random.default_rng(seed)
    size = int(min(max(train_size, 2), len(x_pool)))
    subsets = [rng.choice(len(x_pool), size, replace=False) for _ in range(count)]
    n_jobs = min(count, jobs or os.cpu_count() or 1)
    outs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_reference)(
            trainer, x_pool[idx], y_pool[idx], seed + 1 + k, x_eval, y_eval, n_classes
        )
        for k, idx in enumerate(subsets)
    )
    inside = np.zeros((count, len(x_eval)), dtype=bool)
    if eval_in_pool is not None:
        for k, idx in enumerate(subsets):
            mask = np.zeros(len(x_pool), dtype=bool)
            mask[idx] = True
            inside[k] = mask[eval_in_pool]
    return ReferenceStats(
        p_true=np.stack([o[0] for o in outs]), phi=np.stack([o[1] for o in outs]), inside=inside
    )


def _masked_mean(values: Floats, mask: NDArray[np.bool_]) -> tuple[Floats, NDArray[np.int64]]:
    counts = mask.sum(axis=0)
    sums = np.where(mask, values, 0.0).sum(axis=0)
    return sums / np.maximum(counts, 1), counts


def _pooled_std(values: Floats, mask: NDArray[np.bool_], mean: Floats) -> float:
    dev = np.where(mask, values - mean, 0.0)
    dof = max(int(mask.sum()) - int((mask.sum(axis=0) > 0).sum()), 1)
    return float(max(np.sqrt((dev**2).sum() / dof), 1e-3))


def _per_record_std(values: Floats, mask: NDArray[np.bool_], mean: Floats, pooled: float) -> Floats:
    counts = mask.sum(axis=0)
    if counts.min(initial=0) < _GLOBAL_VARIANCE_BELOW:
        return np.full(values.shape[1], pooled)
    dev = np.where(mask, values - mean, 0.0)
    return np.asarray(np.maximum(np.sqrt((dev**2).sum(axis=0) / (counts - 1)), 1e-3))


def _means(refs: ReferenceStats) -> tuple[Floats, Floats]:
    """Per-record IN and OUT means; a side with no reference is estimated from the other one
    and the average IN - OUT shift (rare with online references: p = 2^-K per record)."""
    inside, out = refs.inside, ~refs.inside
    mu_in, n_in = _masked_mean(refs.phi, inside)
    mu_out, n_out = _masked_mean(refs.phi, out)
    both = (n_in > 0) & (n_out > 0)
    shift = float(np.mean(mu_in[both] - mu_out[both])) if both.any() else 0.0
    return np.where(n_in > 0, mu_in, mu_out + shift), np.where(n_out > 0, mu_out, mu_in - shift)


def lira_offline(phi_target: Floats, refs: ReferenceStats) -> Floats:
    """One-sided LiRA: how far above the OUT references' distribution the target's phi is."""
    out = ~refs.inside
    _, mu = _means(refs)
    sigma = _per_record_std(refs.phi, out, mu, _pooled_std(refs.phi, out, mu))
    return np.asarray((phi_target - mu) / sigma)


def lira_online(phi_target: Floats, refs: ReferenceStats) -> Floats:
    """LiRA online: log N(phi; IN) - log N(phi; OUT), pooled variances for small K."""
    inside, out = refs.inside, ~refs.inside
    mu_in, mu_out = _means(refs)
    sd_in = _per_record_std(refs.phi, inside, mu_in, _pooled_std(refs.phi, inside, mu_in))
    sd_out = _per_record_std(refs.phi, out, mu_out, _pooled_std(refs.phi, out, mu_out))
    return np.asarray(
        _log_normal(phi_target, mu_in, sd_in) - _log_normal(phi_target, mu_out, sd_out)
    )


def _log_normal(x: Floats, mu: Floats, sd: Floats) -> Floats:
    return np.asarray(-0.5 * ((x - mu) / sd) ** 2 - np.log(sd))


def rmia(p_target: Floats, refs: ReferenceStats, *, offline_a: float = 0.3) -> Floats:
    """RMIA: log of Pr(x | target) / Pr(x), Pr(x) the references' average likelihood.

    Online (some references hold the record) averages every reference; offline applies the
    paper's linear correction ``Pr(x) = ((1 + a) Pr_OUT(x) + (1 - a)) / 2``. Comparing with
    population points z (the paper's pairwise test with gamma = 1) keeps this order, since the
    z's are shared by all records.
    """
    if refs.inside.any():
        prior = refs.p_true.mean(axis=0)
    else:
        prior = 0.5 * ((1.0 + offline_a) * refs.p_true.mean(axis=0) + (1.0 - offline_a))
    return np.asarray(np.log(p_target + _TINY) - np.log(prior + _TINY))


def target_stats(
    model: Any, x: NDArray[np.float32], y: NDArray[np.int64]
) -> tuple[Floats, Floats, NDArray[np.float32]]:
    """(p_y, phi, probabilities) of the target; phi from logits when the model has them."""
    from mlwarden.models.base import Capability

    proba = np.asarray(model.predict_proba(x), dtype=np.float32)
    p_true, phi = _true_class_stats(proba, y)
    if Capability.LOGITS in getattr(model, "capabilities", frozenset()):
        z = np.asarray(model.logits(x), dtype=np.float64)
        rows = np.arange(len(y))
        z_true = z[rows, y]
        z[rows, y] = -np.inf
        top = z.max(axis=1, keepdims=True)
        phi = z_true - (top[:, 0] + np.log(np.exp(z - top).sum(axis=1)))
    return p_true, phi, proba
