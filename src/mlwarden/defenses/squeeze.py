"""Feature-squeezing detector: an input whose answer moves when squeezed is suspicious.

Score = the largest L1 distance between the model's probabilities on the input and on each
squeezed version of it (bit-depth reduction, median filter); inputs scoring above a
threshold are rejected. The threshold is calibrated on clean inputs to a target
false-positive rate (Xu, Evans & Qi 2018, https://arxiv.org/abs/1704.01155). Known to fall
to adaptive attacks; the audit measures that with BPDA through the squeezers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mlwarden.defenses.base import Calibration, NotCalibrated, Preprocessor, threshold_for_fpr
from mlwarden.defenses.smoothing import BitDepth, MedianSmoothing
from mlwarden.models.base import Capability, require

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray

    from mlwarden.models.base import ProbabilisticClassifier


class FeatureSqueezingDetector:
    """Reject inputs whose prediction changes under squeezing.

    Args:
        model: the protected model (needs ``predict_proba``).
        squeezers: the squeezing transforms (default: 4-bit depth and a 2x2 median filter;
            pass ``image_shape`` through :class:`MedianSmoothing` for flat image inputs).
        target_fpr: false-positive rate on clean data the threshold is calibrated to.
        threshold: a fixed threshold instead of calibrating one.
    """

    id = "feature_squeezing"

    def __init__(
        self,
        model: ProbabilisticClassifier,
        squeezers: Sequence[Preprocessor] | None = None,
        target_fpr: float = 0.05,
        threshold: float | None = None,
    ) -> None:
        self.model = model
        self.squeezers = (
            tuple(squeezers) if squeezers is not None else (BitDepth(4), MedianSmoothing(2))
        )
        self.target_fpr = target_fpr
        self.threshold = threshold
        self.fixed_threshold = threshold is not None
        self.calibration: Calibration | None = None

    def score(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """Largest L1 distance between probabilities on ``x`` and on each squeezed ``x``."""
        import numpy as np

        require(self.model, Capability.PREDICT_PROBA, purpose="feature squeezing")
        base = np.asarray(self.model.predict_proba(x), dtype=np.float64)
        scores = np.zeros(len(x))
        for squeezer in self.squeezers:
            squeezed = np.asarray(self.model.predict_proba(squeezer.transform(x)), dtype=np.float64)
            scores = np.maximum(scores, np.abs(base - squeezed).sum(axis=1))
        return scores

    def detect(self, x: NDArray[np.float32]) -> NDArray[np.bool_]:
        """``True`` for inputs to reject."""
        import numpy as np

        if self.threshold is None:
            raise NotCalibrated("the feature-squeezing detector has no threshold yet")
        return np.asarray(self.score(x) > self.threshold)

    def calibrate(
        self, x_clean: NDArray[np.float32], y: NDArray[np.int64] | None = None
    ) -> Calibration:
        """Choose the threshold for ``target_fpr`` on clean inputs and record the real rate."""
        import numpy as np

        scores = self.score(x_clean)
        threshold = self.threshold
        if not self.fixed_threshold or threshold is None:
            threshold = self.threshold = threshold_for_fpr(scores, self.target_fpr)
        rejected = scores > threshold
        accuracy = None
        if y is not None:
            right = np.asarray(self.model.predict(x_clean)) == np.asarray(y)
            accuracy = float((right & ~rejected).mean())
        self.calibration = Calibration(
            self.id, len(x_clean), float(rejected.mean()), self.threshold, self.target_fpr, accuracy
        )
        return self.calibration

    def score_tensor(
        self, x: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """Differentiable score for adaptive attacks: squeezers are passed with BPDA."""
        import torch

        base = torch.softmax(forward(x), dim=1)
        scores = torch.zeros(len(x), device=x.device)
        for squeezer in self.squeezers:
            squeezed = torch.softmax(forward(bpda(squeezer, x)), dim=1)
            scores = torch.maximum(scores, (base - squeezed).abs().sum(dim=1))
        return scores


def bpda(pre: Preprocessor, x: torch.Tensor) -> torch.Tensor:
    """``pre(x)`` in the forward pass; identity gradient when ``pre`` is not differentiable.

    BPDA (Athalye, Carlini & Wagner 2018, https://arxiv.org/abs/1802.00420): the squeezers
    are close to the identity, so the identity is a good stand-in for their gradient.
    """
    if pre.differentiable:
        return pre.transform_tensor(x)
    return x + (pre.transform_tensor(x.detach()) - x).detach()
