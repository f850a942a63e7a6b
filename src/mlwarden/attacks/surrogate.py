"""The extraction attacker's copy of the model: a small MLP in NumPy, trained on soft labels.

NumPy keeps extraction usable without torch and deterministic under a seed. Soft targets
matter: trained on the victim's probabilities a surrogate copies its decision boundary with
far fewer queries than on labels (knowledge distillation). The input gradient of the
surrogate drives Jacobian-based augmentation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


class MlpSurrogate:
    """One-hidden-layer ReLU network trained with Adam on soft cross-entropy.

    Args:
        n_classes: number of classes.
        hidden: hidden units.
        lr: Adam step size.
        batch: minibatch size.
        l2: weight decay.
        seed: initialisation and shuffling seed.
        center, scale: input standardisation (the attacker's knowledge of the input range);
            ``None`` = from the training queries.
        steps: gradient steps; ``None`` = from the number of queries.
    """

    def __init__(
        self,
        n_classes: int,
        *,
        hidden: int = 128,
        lr: float = 3e-3,
        batch: int = 64,
        l2: float = 1e-4,
        seed: int = 0,
        center: NDArray[Any] | None = None,
        scale: NDArray[Any] | None = None,
        steps: int | None = None,
    ) -> None:
        self.n_classes = int(n_classes)
        self.hidden = int(hidden)
        self.lr = lr
        self.batch = int(batch)
        self.l2 = l2
        self.seed = int(seed)
        self.center = center
        self.scale = scale
        self.steps = steps
        self.params: list[Floats] = []

    def _prep(self, x: NDArray[Any]) -> Floats:
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return np.asarray((flat - self._mu) / self._sd)

    def fit(self, x: NDArray[Any], targets: NDArray[Any]) -> MlpSurrogate:
        """Fit on inputs ``x`` and target distributions ``targets`` ``(n, n_classes)``."""
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        self._mu = flat.mean(axis=0) if self.center is None else np.ravel(self.center)
        sd = flat.std(axis=0) if self.scale is None else np.ravel(self.scale)
        self._sd = np.where(sd > 1e-8, sd, 1.0)
        xs = self._prep(x)
        t = _normalise(np.asarray(targets, dtype=np.float64))
        rng = np.random.default_rng(self.seed)
        d = xs.shape[1]
        # PyTorch's default Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        b1, b2 = 1 / math.sqrt(d), 1 / math.sqrt(self.hidden)
        self.params = [
            rng.uniform(-b1, b1, (d, self.hidden)),
            rng.uniform(-b1, b1, self.hidden),
            rng.uniform(-b2, b2, (self.hidden, self.n_classes)),
            rng.uniform(-b2, b2, self.n_classes),
        ]
        self._adam(xs, t, rng)
        return self

    def _adam(self, xs: Floats, t: Floats, rng: np.random.Generator) -> None:
        n = len(xs)
        batch = min(self.batch, n)
        per_epoch = math.ceil(n / batch)
        steps = self.steps or int(min(max(1500, 30 * per_epoch), 8000))
        m = [np.zeros_like(p) for p in self.params]
        v = [np.zeros_like(p) for p in self.params]
        order = rng.permutation(n)
        for step in range(1, steps + 1):
            start = ((step - 1) % per_epoch) * batch
            if start == 0 and step > 1:
                order = rng.permutation(n)
            idx = order[start : start + batch]
            grads = self._grads(xs[idx], t[idx])
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                m_hat = m[i] / (1 - 0.9**step)
                v_hat = v[i] / (1 - 0.999**step)
                self.params[i] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)

    def _grads(self, xb: Floats, tb: Floats) -> list[Floats]:
        w1, b1, w2, b2 = self.params
        h = np.maximum(xb @ w1 + b1, 0.0)
        p = _softmax(h @ w2 + b2)
        dz = (p - tb) / len(xb)
        dh = (dz @ w2.T) * (h > 0)
        return [xb.T @ dh + self.l2 * w1, dh.sum(axis=0), h.T @ dz + self.l2 * w2, dz.sum(axis=0)]

    def logits(self, x: NDArray[Any]) -> Floats:
        """Pre-softmax scores ``(n, n_classes)``."""
        w1, b1, w2, b2 = self.params
        return np.asarray(np.maximum(self._prep(x) @ w1 + b1, 0.0) @ w2 + b2)

    def predict_proba(self, x: NDArray[Any]) -> Floats:
        """Class probabilities."""
        return _softmax(self.logits(x))

    def predict(self, x: NDArray[Any]) -> NDArray[np.int64]:
        """Class indices."""
        return np.asarray(np.argmax(self.logits(x), axis=1), dtype=np.int64)

    def log_proba_gradient(self, x: NDArray[Any], classes: NDArray[np.int64]) -> Floats:
        """d log p(class_i | x_i) / d x_i, in the input's (flat) units."""
        w1, b1, w2, b2 = self.params
        xs = self._prep(x)
        pre = xs @ w1 + b1
        p = _softmax(np.maximum(pre, 0.0) @ w2 + b2)
        dz = -p
        dz[np.arange(len(classes)), classes] += 1.0
        dh = (dz @ w2.T) * (pre > 0)
        return np.asarray((dh @ w1.T) / self._sd)


def _softmax(z: Floats) -> Floats:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _normalise(t: Floats) -> Floats:
    t = np.clip(t, 0.0, None)
    sums = t.sum(axis=1, keepdims=True)
    return np.asarray(np.where(sums > 0, t / np.where(sums > 0, sums, 1.0), 1.0 / t.shape[1]))
