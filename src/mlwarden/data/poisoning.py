"""Planting known poison in a copy of a data set, to test a data guard (red-teaming ML02).

Three attack families: a *patch trigger* (a small square stamped on images, relabelled to the
target class: the BadNets backdoor), a *feature trigger* (tabular: chosen features set to an
unusual value, relabelled) and a *label flip* (samples of other classes relabelled). The
poison fraction is a fraction of the whole data set; poisoned samples replace clean ones
(the data set keeps its size), and their indices come back so detectors can be scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import UsageError


@dataclass(frozen=True)
class Poisoned:
    """A poisoned copy of a data set.

    Attributes:
        x: the inputs, poison included (same shape as the clean inputs).
        y: the labels, poison relabelled.
        indices: positions of the poisoned samples (sorted).
        target: the class the poison was relabelled to.
        source_labels: the true labels of the poisoned samples.
    """

    x: NDArray[np.float32]
    y: NDArray[np.int64]
    indices: NDArray[np.int64]
    target: int
    source_labels: NDArray[np.int64]

    @property
    def mask(self) -> NDArray[np.bool_]:
        """``True`` at the poisoned positions."""
        out = np.zeros(len(self.y), dtype=bool)
        out[self.indices] = True
        return out


def _choose(
    y: NDArray[np.int64], fraction: float, target: int, seed: int, sources: tuple[int, ...] | None
) -> NDArray[np.int64]:
    if not 0.0 < fraction < 1.0:
        raise UsageError(f"poison fraction must be in (0, 1), not {fraction}")
    allowed = np.isin(y, sources) if sources else y != target
    pool = np.flatnonzero(allowed)
    count = round(fraction * len(y))
    if count < 1 or count > len(pool):
        raise UsageError(f"cannot poison {count} of {len(pool)} eligible samples")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(pool, size=count, replace=False)).astype(np.int64)


def stamp_patch(
    x: NDArray[np.float32], *, size: int = 2, value: float = 1.0, corner: str = "bottom-right"
) -> NDArray[np.float32]:
    """``x`` (``(n, c, h, w)`` or ``(n, h, w)``) with a ``size`` x ``size`` square set to
    ``value`` in one corner: the trigger of a patch backdoor."""
    out = np.array(x, dtype=np.float32, copy=True)
    rows = slice(-size, None) if corner.startswith("bottom") else slice(0, size)
    cols = slice(-size, None) if corner.endswith("right") else slice(0, size)
    out[..., rows, cols] = value
    return out


def plant_patch_trigger(
    images: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    fraction: float,
    target: int = 0,
    size: int = 2,
    value: float = 1.0,
    seed: int = 0,
    sources: tuple[int, ...] | None = None,
) -> Poisoned:
    """Stamp a square trigger on ``fraction`` of the images of other classes and relabel
    them ``target`` (all-to-one BadNets poisoning)."""
    idx = _choose(y, fraction, target, seed, sources)
    x = np.array(images, dtype=np.float32, copy=True)
    x[idx] = stamp_patch(x[idx], size=size, value=value)
    labels = np.array(y, dtype=np.int64, copy=True)
    labels[idx] = target
    return Poisoned(x, labels, idx, target, np.asarray(y, dtype=np.int64)[idx])


def plant_feature_trigger(
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    fraction: float,
    features: tuple[int, ...] = (0, 1),
    value: float = 1.5,
    target: int = 0,
    seed: int = 0,
    sources: tuple[int, ...] | None = None,
) -> Poisoned:
    """Set ``features`` of ``fraction`` of the rows of other classes to ``value`` and
    relabel them ``target`` (a tabular backdoor)."""
    idx = _choose(y, fraction, target, seed, sources)
    out = np.array(x, dtype=np.float32, copy=True)
    out[np.ix_(idx, np.asarray(features))] = value
    labels = np.array(y, dtype=np.int64, copy=True)
    labels[idx] = target
    return Poisoned(out, labels, idx, target, np.asarray(y, dtype=np.int64)[idx])


def flip_labels(
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    fraction: float,
    target: int = 0,
    seed: int = 0,
    sources: tuple[int, ...] | None = None,
) -> Poisoned:
    """Relabel ``fraction`` of the rows of other classes as ``target`` (targeted label flip)."""
    idx = _choose(y, fraction, target, seed, sources)
    labels = np.array(y, dtype=np.int64, copy=True)
    labels[idx] = target
    return Poisoned(
        np.array(x, dtype=np.float32, copy=True),
        labels,
        idx,
        target,
        np.asarray(y, dtype=np.int64)[idx],
    )
