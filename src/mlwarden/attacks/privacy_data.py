"""The data of the privacy probes: members, non-members, population, and how they are split.

A privacy audit needs more than one labelled set: the model's training records (members),
records it never saw (non-members: the audit's ordinary ``--data``/``--test``) and, for
reference models, optional population data from the same distribution.
:class:`PrivacyAuditData` carries them through the probe registry; :func:`privacy_splits`
samples and arranges them for the membership attacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.attacks.registry import AuditData
from mlwarden.errors import UsageError

if TYPE_CHECKING:
    from mlwarden.attacks.privacy_settings import MembershipSettings

Labelled = tuple[NDArray[Any], NDArray[Any]]


@dataclass(frozen=True)
class PrivacyAuditData(AuditData):
    """:class:`AuditData` (the held-out records) plus the training and population records.

    Attributes:
        x_train, y_train: the model's training records (members).
        x_population, y_population: other records of the same distribution, or ``None``.
    """

    x_train: NDArray[np.float32] | None = None
    y_train: NDArray[np.int64] | None = None
    x_population: NDArray[np.float32] | None = None
    y_population: NDArray[np.int64] | None = None


def with_training(
    data: AuditData, train: Labelled | None, population: Labelled | None = None
) -> PrivacyAuditData:
    """``data`` (the held-out set) extended with training and population records."""
    base = {f.name: getattr(data, f.name) for f in fields(data) if f.init}
    base.update(
        x_train=None if train is None else train[0],
        y_train=None if train is None else train[1],
        x_population=None if population is None else population[0],
        y_population=None if population is None else population[1],
    )
    return PrivacyAuditData(**base)


def train_and_population(data: AuditData, probe: str) -> tuple[Labelled, Labelled | None]:
    """The training records (required) and the population (optional) carried by ``data``."""
    x_train = getattr(data, "x_train", None)
    y_train = getattr(data, "y_train", None)
    if x_train is None or y_train is None:
        raise UsageError(
            f"the {probe} probe needs the model's training records as well as held-out ones",
            hint="Pass --train TRAIN (members) and --test HELD_OUT (non-members).",
        )
    x_pop = getattr(data, "x_population", None)
    y_pop = getattr(data, "y_population", None)
    population = None if x_pop is None or y_pop is None else (x_pop, y_pop)
    return (x_train, y_train), population


def conform(model: Any, x: NDArray[Any], y: NDArray[Any], what: str) -> Labelled:
    """``x`` as float32 of the model's input shape and ``y`` as int64, or a clear error."""
    xs = np.asarray(x, dtype=np.float32)
    ys = np.asarray(y).astype(np.int64).reshape(-1)
    if xs.ndim < 2 or len(xs) != len(ys) or len(xs) == 0:
        raise UsageError(f"{what}: need (n, features) inputs and n labels; got {xs.shape}")
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if shape and tuple(xs.shape[1:]) != shape:
        if math.prod(xs.shape[1:]) != math.prod(shape):
            raise UsageError(f"{what}: input shape {xs.shape[1:]} does not fit the model's {shape}")
        xs = xs.reshape((len(xs), *shape))
    if not np.isfinite(xs).all():
        raise UsageError(f"{what}: NaN or infinite values")
    return xs, ys


@dataclass(frozen=True)
class Split:
    """Members and non-members to evaluate, and the pool references are trained on."""

    x_member: NDArray[np.float32]
    y_member: NDArray[np.int64]
    member_index: NDArray[np.intp]
    x_nonmember: NDArray[np.float32]
    y_nonmember: NDArray[np.int64]
    x_pool: NDArray[np.float32]
    y_pool: NDArray[np.int64]
    eval_in_pool: NDArray[np.intp]
    reference_size: int
    notes: tuple[str, ...] = ()


def privacy_splits(
    train: Labelled,
    test: Labelled,
    population: Labelled | None,
    s: MembershipSettings,
    model: Any,
    seed: int,
) -> Split:
    """Sample members and non-members; build the reference pool for ``s.mode``."""
    rng = np.random.default_rng(seed)
    x_tr, y_tr = conform(model, *train, "training data")
    x_te, y_te = conform(model, *test, "held-out data")
    notes: list[str] = []
    m_idx = np.sort(rng.permutation(len(y_tr))[: s.max_members])
    n_idx = np.sort(rng.permutation(len(y_te))[: s.max_nonmembers])
    pop = None if population is None else conform(model, *population, "population data")
    if s.mode == "offline" and pop is None:
        half = len(n_idx) // 2
        pop = (x_te[n_idx[:half]], y_te[n_idx[:half]])
        n_idx = n_idx[half:]
        notes.append(
            f"no population data: half of the held-out records ({half}) train the references"
        )
    x_m, y_m, x_n, y_n = x_tr[m_idx], y_tr[m_idx], x_te[n_idx], y_te[n_idx]
    if s.mode == "online":
        parts = [(x_m, y_m), (x_n, y_n), *([pop] if pop is not None else [])]
        x_pool = np.concatenate([p[0] for p in parts])
        y_pool = np.concatenate([p[1] for p in parts])
        eval_in_pool = np.arange(len(y_m) + len(y_n))
        size = len(y_pool) // 2
    else:
        if pop is None:  # pragma: no cover - filled above
            raise UsageError("offline references need population data")
        x_pool, y_pool = pop
        eval_in_pool = np.zeros(0, dtype=np.intp)
        size = min(len(y_tr), max(len(y_pool) // 2, 2))
    if size < 0.5 * len(y_tr):
        notes.append(
            f"references train on {size} records, the target on {len(y_tr)}: "
            "more population data would make the reference attacks stronger"
        )
    return Split(x_m, y_m, m_idx, x_n, y_n, x_pool, y_pool, eval_in_pool, size, tuple(notes))
