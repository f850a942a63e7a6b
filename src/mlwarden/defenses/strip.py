"""STRIP: a runtime detector of trojaned (trigger-carrying) inputs.

A backdoor's trigger dominates the model's decision: superimpose a triggered input on
random clean images and the prediction stays on the target class (low entropy), while a
clean input superimposed on others yields varied predictions (high entropy). As in the
paper (Gao et al., ACSAC 2019) images are *added* (not averaged) and clipped to the valid
range, and the entropy is the mean Shannon entropy over ``n_perturb`` overlays. The
threshold is chosen on clean held-out inputs for a target false-rejection rate (FRR).

Usable by the gateway: ``StripDetector(model).fit(x_clean)``, then ``score(x)`` (higher =
more suspicious) or ``is_trojaned(x)``. It also satisfies the defences' ``Detector``
Protocol (``calibrate``, ``detect``, ``calibration``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.defenses.base import Calibration, NotCalibrated, threshold_for_fpr
from mlwarden.errors import UsageError

Floats = NDArray[np.float32]


class StripDetector:
    """Entropy of predictions under superimposition; low entropy means a trigger.

    Args:
        model: any adapter with ``predict_proba``.
        n_perturb: clean overlays per input.
        target_frr: share of clean inputs the calibrated threshold may reject.
        clip: ``(low, high)`` bounds of valid inputs (default: the model's ``clip``, else
            the calibration data's range).
        seed: seed of the overlay draws (scores are reproducible per input batch).
        batch_size: inputs scored per model call (times ``n_perturb``).
    """

    id = "strip"

    def __init__(
        self,
        model: Any,
        *,
        n_perturb: int = 32,
        target_frr: float = 0.01,
        clip: tuple[float, float] | None = None,
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.n_perturb = n_perturb
        self.target_frr = target_frr
        self.clip = clip
        self.seed = seed
        self.batch_size = batch_size
        self._pool: Floats | None = None
        self._threshold: float | None = None
        self._calibration: Calibration | None = None

    @property
    def calibration(self) -> Calibration | None:
        return self._calibration

    @property
    def threshold(self) -> float | None:
        """Scores above this are rejected (``None`` until calibrated)."""
        return self._threshold

    def fit(self, x_clean: NDArray[np.floating]) -> StripDetector:
        """Keep ``x_clean`` as the overlay pool and calibrate the threshold on it."""
        self.calibrate(np.asarray(x_clean, dtype=np.float32))
        return self

    def calibrate(
        self, x_clean: NDArray[np.float32], y: NDArray[np.int64] | None = None
    ) -> Calibration:
        """Choose the threshold that rejects at most ``target_frr`` of ``x_clean``."""
        if len(x_clean) < 2 or self.n_perturb < 1:
            raise UsageError("STRIP needs at least two clean inputs and one overlay")
        self._pool = np.asarray(x_clean, dtype=np.float32)
        if self.clip is None:
            self.clip = getattr(self.model, "clip", None) or (
                float(self._pool.min()),
                float(self._pool.max()),
            )
        scores = self.score(self._pool)
        self._threshold = threshold_for_fpr(scores, self.target_frr)
        self._calibration = Calibration(
            defense=self.id,
            samples=len(scores),
            false_positive_rate=float((scores > self._threshold).mean()),
            threshold=self._threshold,
            target_fpr=self.target_frr,
        )
        return self._calibration

    def entropy(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Mean prediction entropy (nats) of each input over its overlays."""
        if self._pool is None or self.clip is None:
            raise NotCalibrated("STRIP needs clean inputs first: call fit(x_clean)")
        pool, (lo, hi) = self._pool, self.clip
        batch = np.asarray(x, dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        picks = rng.integers(0, len(pool), size=(len(batch), self.n_perturb))
        out = np.empty(len(batch))
        for start in range(0, len(batch), self.batch_size):
            part = slice(start, start + self.batch_size)
            mixed = np.clip(batch[part, None] + pool[picks[part]], lo, hi)
            proba = self.model.predict_proba(mixed.reshape(-1, *batch.shape[1:]))
            p = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)
            ent = -(p * np.log(p)).sum(axis=1).reshape(-1, self.n_perturb)
            out[part] = ent.mean(axis=1)
        return out

    def score(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Suspicion per input: the negated entropy (higher = more likely trojaned)."""
        out: NDArray[np.float64] = -self.entropy(x)
        return out

    def detect(self, x: NDArray[np.floating]) -> NDArray[np.bool_]:
        """``True`` where the input is rejected as trojaned."""
        if self._threshold is None:
            raise NotCalibrated("STRIP has no threshold yet: call fit(x_clean)")
        out: NDArray[np.bool_] = self.score(x) > self._threshold
        return out

    def is_trojaned(self, x: NDArray[np.floating]) -> NDArray[np.bool_]:
        """Alias of :meth:`detect` in STRIP's vocabulary."""
        return self.detect(x)
