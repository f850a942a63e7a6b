"""Square-style score-based attack (L-inf and L2), batched across samples.

Needs scores (``predict_proba`` or ``logits``). Per sample: start from random vertical
stripes of the budget, then repeatedly redraw the perturbation inside one random square
window (its side shrinks on the original schedule as queries are spent) and keep the change
when the margin loss ``score[y] - max(other scores)`` drops; stop at a negative margin or an
empty budget (Andriushchenko et al. 2020, https://arxiv.org/abs/1912.00049). Windows sit on
the image grid when inputs are images (``image_shape``), on the feature axis otherwise. All
active samples are evaluated in one model call per iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlwarden.attacks.queries import BatchedRun, QueryOracle
from mlwarden.attacks.threat import distances
from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.results import AttackResult
    from mlwarden.attacks.threat import ThreatModel
    from mlwarden.models.base import Classifier

#: Fractions of the query budget (out of 10,000) after which the window area halves.
_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


@dataclass(frozen=True)
class SquareParams:
    """Tuning of :func:`square_attack`.

    Attributes:
        budget: model queries per sample (the start counts as one).
        p_init: initial fraction of the input covered by a window.
        image_shape: ``(h, w)`` or ``(c, h, w)`` grid of the features (``None``: the model's
            input shape if it has 2+ dimensions, else one row of features).
        seed: seeds positions and signs.
    """

    budget: int = 1000
    p_init: float = 0.3
    image_shape: tuple[int, ...] | None = None
    seed: int = 0


def window_fraction(p_init: float, it: int, n_iters: int) -> float:
    """The window area (fraction of the input) at iteration ``it`` of ``n_iters``."""
    scaled = int(it / max(n_iters, 1) * 10000)
    halvings = sum(1 for mark in _SCHEDULE if scaled > mark)
    return float(p_init) / float(2**halvings)


def grid_of(shape: tuple[int, ...], image_shape: tuple[int, ...] | None) -> tuple[int, int, int]:
    """``(channels, height, width)`` the features are laid out on."""
    size = math.prod(shape)
    grid = tuple(image_shape) if image_shape else (shape if len(shape) >= 2 else (1, size))
    if math.prod(grid) != size:
        raise UsageError(f"image shape {grid} does not hold the {size} input features")
    if len(grid) == 2:
        return 1, grid[0], grid[1]
    if len(grid) == 3:
        return grid[0], grid[1], grid[2]
    raise UsageError(f"image shape must be (h, w) or (c, h, w), not {grid}")


def square_attack(
    model: Classifier,
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    threat: ThreatModel,
    params: SquareParams | None = None,
) -> AttackResult:
    """Search, per sample, for an adversarial input within ``threat`` using scores only.

    Args:
        model: a classifier with ``predict_proba`` or ``logits`` (local, remote, callable).
        x: inputs ``(n, *input_shape)``; y: true labels ``(n,)``.
        threat: norm (``linf`` or ``l2``), eps and input bounds.
        params: budget and tuning.
    """
    import numpy as np

    p = params or SquareParams()
    if p.budget < 1:
        raise UsageError("the Square attack needs a query budget of at least 1 per sample")
    c, h, w = grid_of(tuple(x.shape[1:]), p.image_shape)
    x4 = np.asarray(x, dtype=np.float32).reshape(len(x), c, h, w)
    oracle = QueryOracle(model, y, p.budget)
    run = _Run(oracle, x4, tuple(x.shape[1:]), threat, p)
    x_best, found = run.attack()
    x_adv = np.where(found[:, None, None, None], x_best, x4).reshape(x.shape)
    dist = distances(x, x_adv, threat.norm)
    return run.result("square", threat.norm, threat.eps, x_adv, found, dist)


class _Run(BatchedRun[SquareParams]):
    def prepare(self) -> None:
        self.n, self.c, self.h, self.w = self.x.shape

    def _margins(self, x4: NDArray[np.floating], owners: NDArray[np.intp]) -> NDArray[np.float64]:
        return self.oracle.margins(x4.reshape((-1, *self.shape)), owners)

    def _clip(self, x4: NDArray[np.floating]) -> NDArray[np.float32]:
        import numpy as np

        out: NDArray[np.float32] = np.clip(x4, self.threat.clip_min, self.threat.clip_max).astype(
            np.float32
        )
        return out

    def attack(self) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Returns the best points and whether each one is confirmed adversarial."""
        import numpy as np

        eps = self.threat.eps
        stripes = self.rng.choice([-1.0, 1.0], size=(self.n, self.c, 1, self.w))
        if self.threat.norm == "l2":
            stripes = stripes / math.sqrt(self.h * self.w * self.c)
        x_best = self._clip(self.x + eps * stripes)
        everyone = np.arange(self.n)
        margin = self._margins(x_best, everyone)
        done = self._confirm(everyone, x_best, margin)
        n_iters = self.p.budget - 1
        for it in range(n_iters):
            act = np.flatnonzero(~done & (self.oracle.remaining() > 0))
            if len(act) == 0:
                break
            side = self._side(window_fraction(self.p.p_init, it, n_iters))
            trial = self._propose(act, x_best[act], side)
            new = self._margins(trial, act)
            better = new < margin[act]
            x_best[act[better]] = trial[better]
            margin[act[better]] = new[better]
            won = act[better]
            done[won] = self._confirm(won, x_best[won], margin[won])
        return x_best, done

    def _confirm(
        self, idx: NDArray[np.intp], x4: NDArray[np.float32], margin: NDArray[np.float64]
    ) -> NDArray[np.bool_]:
        """Check negative margins with ``predict``: scores and labels can disagree (an SVC's
        Platt probabilities), and only a changed label is an evasion."""
        import numpy as np

        out = np.zeros(len(idx), dtype=bool)
        neg = np.flatnonzero((margin < 0) & (self.oracle.remaining()[idx] > 0))
        if len(neg):
            out[neg] = self.oracle.is_adversarial(x4[neg].reshape((-1, *self.shape)), idx[neg])
        return out

    def _side(self, fraction: float) -> int:
        if self.h == 1:
            return int(min(self.w, max(1, round(fraction * self.w))))
        side = round(math.sqrt(fraction * self.h * self.w))
        return int(min(self.h, self.w, max(1, side)))

    def _window(self, k: int, side: int) -> NDArray[np.bool_]:
        """A random ``side`` x ``side`` window per sample, as a ``(k, 1, h, w)`` mask."""
        import numpy as np

        top = self.rng.integers(0, self.h - min(side, self.h) + 1, size=k)
        left = self.rng.integers(0, self.w - side + 1, size=k)
        rows, cols = np.arange(self.h), np.arange(self.w)
        in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + side)
        in_cols = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + side)
        return np.asarray((in_rows[:, :, None] & in_cols[:, None, :])[:, None, :, :])

    def _propose(
        self, act: NDArray[np.intp], x_cur: NDArray[np.float32], side: int
    ) -> NDArray[np.float32]:
        if self.threat.norm == "linf":
            return self._propose_linf(act, x_cur, side)
        return self._propose_l2(act, x_cur, side)

    def _propose_linf(
        self, act: NDArray[np.intp], x_cur: NDArray[np.float32], side: int
    ) -> NDArray[np.float32]:
        import numpy as np

        mask = self._window(len(act), side)
        signs = self.rng.choice([-1.0, 1.0], size=(len(act), self.c, 1, 1))
        x0 = self.x[act]
        delta = np.where(mask, self.threat.eps * signs, x_cur - x0)
        return self._clip(x0 + delta)

    def _propose_l2(
        self, act: NDArray[np.intp], x_cur: NDArray[np.float32], side: int
    ) -> NDArray[np.float32]:
        """Move the mass of two windows into a fresh pattern in the first (norm kept at eps)."""
        import numpy as np

        k, x0 = len(act), self.x[act]
        first, second = self._window(k, side), self._window(k, side)
        delta = (x_cur - x0).astype(np.float64)
        kept = np.where(first | second, 0.0, delta)
        free = np.maximum(self.threat.eps**2 - (kept**2).reshape(k, -1).sum(axis=1), 0.0)
        pattern = _bumps(side, first, one_row=self.h == 1)
        signs = self.rng.choice([-1.0, 1.0], size=(k, self.c, 1, 1))
        fresh = pattern * signs * first
        scale = np.sqrt(free) / np.maximum(np.sqrt((fresh**2).reshape(k, -1).sum(axis=1)), 1e-12)
        return self._clip(x0 + kept + fresh * scale[:, None, None, None])


def _bumps(side: int, mask: NDArray[np.bool_], *, one_row: bool) -> NDArray[np.float64]:
    """A centred bump of concentric squares (weights 1/(r+1)^2) over each window of ``mask``.

    The pattern concentrates mass in the window's centre like the original attack's
    pseudo-Gaussian update; it is evaluated from each cell's offset inside its window.
    """
    import numpy as np

    rows = np.cumsum(mask, axis=2) - 1  # offset of each cell inside its window (rows)
    cols = np.cumsum(mask, axis=3) - 1
    centre = (side - 1) / 2
    ring = np.abs(cols - centre)
    if not one_row:
        ring = np.maximum(np.abs(rows - centre), ring)
    return np.asarray(np.where(mask, 1.0 / (ring + 1.0) ** 2, 0.0))
