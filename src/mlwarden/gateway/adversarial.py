"""ML01 at serving time: input smoothing, the feature-squeezing detector, a confidence threshold.

The squeezer reduces each feature to ``bits`` bits of its reference range (bit-depth
reduction on data scaled per feature, so it fits tabular inputs as well as pixels). The
detector (:class:`~mlwarden.defenses.squeeze.FeatureSqueezingDetector`) is calibrated once,
on the reference rows, to the policy's false-positive rate. Flagged and low-confidence inputs
are answered ``null`` (uncertain); the audit log records which control decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.defenses import filters
from mlwarden.defenses.squeeze import FeatureSqueezingDetector
from mlwarden.errors import ConfigError
from mlwarden.gateway.policy import AdversarialPolicy

if TYPE_CHECKING:
    import torch

    from mlwarden.models.base import ProbabilisticClassifier
    from mlwarden.monitor.profile import ReferenceProfile

#: Decisions per instance (what the audit log records).
OK, UNCERTAIN, ADVERSARIAL = "ok", "uncertain", "adversarial"


@dataclass(frozen=True)
class ScaledBitDepth:
    """Bit-depth reduction of each feature within its own reference range ``[low, high]``."""

    low: NDArray[np.float64]
    high: NDArray[np.float64]
    bits: int = 4
    id: str = "scaled_bit_depth"
    differentiable: bool = False
    randomized: bool = False

    def transform(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        flat = x.reshape(len(x), -1)
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        unit = ((flat - self.low) / span).astype(np.float32)  # bit_depth clips to [0, 1]
        squeezed = filters.bit_depth(unit, self.bits, 0.0, 1.0)
        out: NDArray[np.float32] = (squeezed * span + self.low).astype(np.float32)
        return out.reshape(x.shape)

    def transform_tensor(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.as_tensor(self.transform(x.detach().cpu().numpy()), device=x.device)


class AdversarialGuard:
    """Smoothing before the model and per-instance decisions after it.

    Args:
        model: the served model (``predict_proba`` needed for the detector and threshold).
        policy: the ``[gateway.adversarial]`` section.
        profile: the reference profile (the squeezer's per-feature ranges).
        reference: reference rows to calibrate the detector on.
    """

    def __init__(
        self,
        model: ProbabilisticClassifier,
        policy: AdversarialPolicy,
        profile: ReferenceProfile | None,
        reference: NDArray[np.float32] | None,
    ) -> None:
        self.model = model
        self.policy = policy
        self.squeezer: ScaledBitDepth | None = None
        self.detector: FeatureSqueezingDetector | None = None
        wants = policy.squeezing_detector or policy.smoothing != "off"
        if wants and profile is None:
            raise ConfigError(
                "squeezing needs the reference data's ranges", hint="Set [gateway] reference."
            )
        if profile is not None and wants:
            self.squeezer = ScaledBitDepth(profile.low, profile.high, policy.squeeze_bits)
        if policy.squeezing_detector:
            self._calibrate(reference)

    def _calibrate(self, reference: NDArray[np.float32] | None) -> None:
        if reference is None:
            raise ConfigError(
                "the squeezing detector is calibrated on reference rows, not on a profile",
                hint="Point [gateway] reference at the training data (.npy/.npz/.csv).",
            )
        if self.squeezer is None:  # built with the profile above
            return
        self.detector = FeatureSqueezingDetector(
            self.model, squeezers=(self.squeezer,), target_fpr=self.policy.target_fpr
        )
        rows = reference[: min(len(reference), 2000)]
        self.detector.calibrate(rows.reshape(len(rows), *self.model.input_shape))

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The detector's calibration record, if it has one."""
        if self.detector is None or self.detector.calibration is None:
            return None
        return self.detector.calibration.to_dict()

    def preprocess(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Input smoothing (when the policy turns it on)."""
        if self.policy.smoothing == "off" or self.squeezer is None:
            return x
        return self.squeezer.transform(x)

    def squeezed(self, x: NDArray[np.float32]) -> NDArray[np.float32] | None:
        """The detector's squeezed copy of ``x`` (``None`` without a detector).

        The caller runs the model once on ``x`` and this copy stacked together: one call of
        two rows costs far less than two calls (per-call overhead dominates small batches).
        """
        if self.detector is None or self.squeezer is None:
            return None
        return self.squeezer.transform(x)

    def decide(
        self, proba: NDArray[np.float32], squeezed_proba: NDArray[np.float32] | None = None
    ) -> list[str]:
        """Per instance: ``ok``, ``uncertain`` (below the threshold) or ``adversarial``."""
        decisions = [OK] * len(proba)
        if self.policy.min_confidence > 0.0:
            low = proba.max(axis=1) < self.policy.min_confidence
            for i in np.flatnonzero(low):
                decisions[i] = UNCERTAIN
        if self.detector is not None and squeezed_proba is not None:
            score = np.abs(proba.astype(np.float64) - squeezed_proba).sum(axis=1)
            for i in np.flatnonzero(score > float(self.detector.threshold or 0.0)):
                decisions[i] = ADVERSARIAL
        return decisions
