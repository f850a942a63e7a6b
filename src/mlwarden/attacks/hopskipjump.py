"""HopSkipJump-style decision-based attack (L2), batched across samples.

Needs labels only (``predict``). Per sample: start from an adversarial point (the nearest
input of another predicted class, else uniform noise), binary-search to the decision
boundary, estimate the boundary's normal by Monte Carlo (random unit directions, +1/-1
answers, baseline subtracted), take a geometric step along it, binary-search back, repeat
until the sample's query budget is spent (Chen, Jordan & Wainwright 2020,
https://arxiv.org/abs/1904.02144). All per-sample state is in arrays: every model call
carries the candidate points of all active samples at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlwarden.attacks.queries import BatchedRun, QueryOracle
from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.results import AttackResult
    from mlwarden.attacks.threat import ThreatModel
    from mlwarden.models.base import Classifier

_POINTS_PER_CALL = 2_000_000  # bound on (samples x directions x features) per chunk


@dataclass(frozen=True)
class HopSkipJumpParams:
    """Tuning of :func:`hopskipjump` (defaults follow the paper and ART).

    Attributes:
        budget: model queries per sample (every query counts, including the start).
        init_eval: directions of the first gradient estimate (``init_eval * sqrt(t)`` at
            iteration ``t``, at most ``max_eval``).
        max_eval: the most directions of one estimate.
        gamma: binary-search precision factor (threshold ``gamma / d**1.5`` of the line).
        init_tries: rounds of uniform noise tried where no other-class input is at hand.
        stop_at: stop refining a sample once its adversarial point is this close (L2): an
            audit that asks "is there an evasion within eps?" has its answer, and the rest of
            the budget is not spent (``None``: refine until the budget is spent).
        seed: seeds the random directions.
    """

    budget: int = 1000
    init_eval: int = 100
    max_eval: int = 1000
    gamma: float = 1.0
    init_tries: int = 20
    stop_at: float | None = None
    seed: int = 0


def hopskipjump(
    model: Classifier,
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    threat: ThreatModel,
    params: HopSkipJumpParams | None = None,
) -> AttackResult:
    """Find, per sample, the smallest L2 change that flips ``model``'s label.

    Args:
        model: any classifier with ``predict`` (local, ONNX, remote HTTP, callable).
        x: inputs ``(n, *input_shape)``; y: true labels ``(n,)``.
        threat: only the input bounds are used (the attack minimises the distance; compare
            :attr:`AttackResult.distance` with any eps afterwards).
        params: budget and tuning.

    Returns:
        An :class:`AttackResult` with ``eps=None``: ``distance`` is the L2 distance of the
        adversarial point found (``0`` for inputs already misclassified, ``inf`` if none).
    """
    import numpy as np

    p = params or HopSkipJumpParams()
    if p.budget < 2:
        raise UsageError("HopSkipJump needs a query budget of at least 2 per sample")
    flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    oracle = QueryOracle(model, y, p.budget)
    run = _Run(oracle, flat, tuple(x.shape[1:]), threat, p)
    x_adv, found, dist = run.attack()
    return run.result("hopskipjump", "l2", None, x_adv.reshape(x.shape), found, dist)


class _Run(BatchedRun[HopSkipJumpParams]):
    """State of one batched attack: originals, current adversarials, distances, budget."""

    def prepare(self) -> None:
        self.d = self.x.shape[1]
        self.theta = self.p.gamma / (self.d * math.sqrt(self.d))
        self.search_steps = math.ceil(math.log2(1.0 / self.theta)) + 1
        self.reserve = self.search_steps + 12  # one binary search + one geometric search

    def _ask(self, points: NDArray[np.floating], owners: NDArray[np.integer]) -> NDArray[np.bool_]:
        return self.oracle.is_adversarial(points.reshape((-1, *self.shape)), owners)

    def attack(self) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.float64]]:
        import numpy as np

        n = len(self.x)
        owners = np.arange(n)
        labels = self.oracle.predict(self.x.reshape((-1, *self.shape)), owners)
        already = (labels != self.oracle.y) & (labels >= 0)
        x_adv, found = self._start(labels, already)
        dist = np.zeros(n)
        todo = np.flatnonzero(found & ~already)
        x_adv[todo], dist[todo] = self._binary_search(todo, x_adv[todo])
        self._iterate(todo, x_adv, dist)
        return x_adv, found, dist

    def _start(
        self, labels: NDArray[np.int64], already: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """First adversarial points: nearest other-class input, else uniform noise."""
        import numpy as np

        x_adv, found = self.x.copy(), already.copy()
        need = np.flatnonzero(~already)
        for chunk in np.array_split(need, max(1, len(need) // 512)):
            if len(chunk) == 0:
                continue
            sq = (self.x.astype(np.float64) ** 2).sum(axis=1)
            d2 = sq[chunk, None] + sq[None, :] - 2.0 * (self.x[chunk] @ self.x.T)
            d2[(labels[None, :] == self.oracle.y[chunk, None]) | (labels[None, :] < 0)] = np.inf
            best = d2.argmin(axis=1)
            ok = np.isfinite(d2[np.arange(len(chunk)), best])
            x_adv[chunk[ok]] = self.x[best[ok]]
            found[chunk[ok]] = True
            self.oracle._count(chunk[ok])  # the start point counts as one query
        for _ in range(self.p.init_tries):
            left = np.flatnonzero(~found & (self.oracle.remaining() > self.reserve))
            if len(left) == 0:
                break
            noise = self.rng.uniform(
                self.threat.clip_min, self.threat.clip_max, (len(left), self.d)
            )
            hit = self._ask(noise.astype(np.float32), left)
            x_adv[left[hit]] = noise[hit]
            found[left[hit]] = True
        return x_adv, found

    def _binary_search(
        self, idx: NDArray[np.intp], far: NDArray[np.floating]
    ) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        """Per sample, the boundary point between ``x`` and the adversarial ``far``."""
        import numpy as np

        x0 = self.x[idx]
        lo, hi = np.zeros(len(idx)), np.ones(len(idx))
        for _ in range(self.search_steps):
            act = np.flatnonzero((hi - lo > self.theta) & (self.oracle.remaining()[idx] > 0))
            if len(act) == 0:
                break
            mid = (lo[act] + hi[act]) / 2
            points = x0[act] + mid[:, None] * (far[act] - x0[act])
            adv = self._ask(points, idx[act])
            hi[act] = np.where(adv, mid, hi[act])
            lo[act] = np.where(adv, lo[act], mid)
        boundary = (x0 + hi[:, None] * (far - x0)).astype(np.float32)
        return boundary, np.linalg.norm(boundary - x0, axis=1)

    def _iterate(
        self, idx: NDArray[np.intp], x_adv: NDArray[np.float32], dist: NDArray[np.float64]
    ) -> None:
        import numpy as np

        t = 0
        while len(idx):
            t += 1
            evals = min(int(self.p.init_eval * math.sqrt(t)), self.p.max_eval)
            allowed = np.minimum(evals, self.oracle.remaining()[idx] - self.reserve)
            going = allowed >= 2
            if self.p.stop_at is not None:
                going &= dist[idx] > self.p.stop_at
            idx, allowed = idx[going], allowed[going]
            if len(idx) == 0:
                break
            delta = (
                np.full(len(idx), 0.1 * (self.threat.clip_max - self.threat.clip_min))
                if t == 1
                else math.sqrt(self.d) * self.theta * dist[idx]
            )
            grad = self._estimate(idx, x_adv[idx], np.maximum(delta, 1e-8), allowed)
            step = self._geometric(idx, x_adv[idx], grad, dist[idx] / math.sqrt(t))
            moved = np.flatnonzero(step.moved)
            if len(moved):
                new_b, new_d = self._binary_search(idx[moved], step.points[moved])
                better = new_d < dist[idx[moved]]
                x_adv[idx[moved[better]]] = new_b[better]
                dist[idx[moved[better]]] = new_d[better]

    def _estimate(
        self,
        idx: NDArray[np.intp],
        boundary: NDArray[np.float32],
        delta: NDArray[np.float64],
        allowed: NDArray[np.int64],
    ) -> NDArray[np.float64]:
        """Monte Carlo estimate of the boundary normal, pointing to the adversarial side."""
        import numpy as np

        grads = np.zeros((len(idx), self.d))
        width = int(allowed.max())
        per_chunk = max(1, _POINTS_PER_CALL // (width * self.d))
        for s in range(0, len(idx), per_chunk):
            sl = slice(s, s + per_chunk)
            grads[sl] = self._estimate_chunk(idx[sl], boundary[sl], delta[sl], allowed[sl], width)
        norms = np.linalg.norm(grads, axis=1, keepdims=True)
        out: NDArray[np.float64] = grads / np.maximum(norms, 1e-12)
        return out

    def _estimate_chunk(
        self,
        idx: NDArray[np.intp],
        boundary: NDArray[np.float32],
        delta: NDArray[np.float64],
        allowed: NDArray[np.int64],
        width: int,
    ) -> NDArray[np.float64]:
        import numpy as np

        u = self.rng.standard_normal((len(idx), width, self.d)).astype(np.float32)
        u /= np.linalg.norm(u, axis=2, keepdims=True)
        pts = boundary[:, None, :] + delta[:, None, None].astype(np.float32) * u
        np.clip(pts, self.threat.clip_min, self.threat.clip_max, out=pts)
        u = ((pts - boundary[:, None, :]) / delta[:, None, None]).astype(np.float32)
        valid = np.arange(width)[None, :] < allowed[:, None]
        phi = np.zeros((len(idx), width))
        owners = np.repeat(idx, allowed)
        phi[valid] = np.where(self._ask(pts[valid], owners), 1.0, -1.0)
        mean = phi.sum(axis=1) / allowed
        # NOTE: subtracting the mean answer (a baseline) cuts the variance of the estimate,
        # except when every answer agrees, where it would zero the estimate out.
        centred = np.where((np.abs(mean) == 1.0)[:, None], phi, phi - mean[:, None]) * valid
        grad: NDArray[np.float64] = np.einsum("kb,kbd->kd", centred, u.astype(np.float64))
        return grad / allowed[:, None]

    def _geometric(
        self,
        idx: NDArray[np.intp],
        boundary: NDArray[np.float32],
        grad: NDArray[np.float64],
        size: NDArray[np.float64],
    ) -> _Step:
        """Step along ``grad`` from the boundary, halving the step until it is adversarial."""
        import numpy as np

        points, moved = boundary.copy(), np.zeros(len(idx), dtype=bool)
        size = size.copy()
        for _ in range(10):
            act = np.flatnonzero(~moved & (self.oracle.remaining()[idx] > self.search_steps))
            if len(act) == 0:
                break
            trial = np.clip(
                boundary[act] + size[act, None] * grad[act],
                self.threat.clip_min,
                self.threat.clip_max,
            ).astype(np.float32)
            adv = self._ask(trial, idx[act])
            points[act[adv]] = trial[adv]
            moved[act[adv]] = True
            size[act[~adv]] /= 2
        return _Step(points, moved)


@dataclass(frozen=True)
class _Step:
    points: NDArray[np.float32]
    moved: NDArray[np.bool_]
