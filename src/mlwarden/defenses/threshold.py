"""Confidence threshold: answer "uncertain" instead of a low-confidence label.

Adversarial inputs near the decision boundary often get low-confidence answers; refusing
them (label ``None`` with a reason, or :data:`~mlwarden.defenses.base.REJECTED` as an array
label) removes the cheapest evasions. The threshold is fixed (``min_confidence``) or
calibrated on clean inputs to a target false-positive rate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlwarden.defenses.base import (
    REJECTED,
    Answer,
    Calibration,
    NotCalibrated,
    threshold_for_fpr,
)
from mlwarden.errors import UsageError
from mlwarden.models.base import Capability, require

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray

    from mlwarden.models.base import ProbabilisticClassifier


class ConfidenceThreshold:
    """Refuse answers whose top probability is below a threshold.

    Args:
        model: the protected model (needs ``predict_proba``).
        min_confidence: a fixed lowest acceptable top probability; ``None`` to calibrate.
        target_fpr: fraction of clean inputs allowed to be refused when calibrating.
    """

    id = "confidence_threshold"

    def __init__(
        self,
        model: ProbabilisticClassifier,
        min_confidence: float | None = None,
        target_fpr: float = 0.05,
    ) -> None:
        if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
            raise UsageError(f"min_confidence must be in [0, 1], not {min_confidence}")
        self.model = model
        self.min_confidence = min_confidence
        self.target_fpr = target_fpr
        self.calibration: Calibration | None = None

    @property
    def threshold(self) -> float | None:
        """Score threshold: inputs with ``1 - top probability`` above it are refused."""
        return None if self.min_confidence is None else 1.0 - self.min_confidence

    def _confidence(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        import numpy as np

        require(self.model, Capability.PREDICT_PROBA, purpose="a confidence threshold")
        top: NDArray[np.float64] = np.asarray(self.model.predict_proba(x), dtype=np.float64).max(
            axis=1
        )
        return top

    def score(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """``1 - top probability`` per input (higher = less certain)."""
        return 1.0 - self._confidence(x)

    def detect(self, x: NDArray[np.float32]) -> NDArray[np.bool_]:
        """``True`` where the model is not confident enough to answer."""
        import numpy as np

        if self.min_confidence is None:
            raise NotCalibrated("the confidence threshold has not been calibrated")
        return np.asarray(self._confidence(x) < self.min_confidence)

    def calibrate(
        self, x_clean: NDArray[np.float32], y: NDArray[np.int64] | None = None
    ) -> Calibration:
        """Pick ``min_confidence`` for ``target_fpr`` (unless fixed) and record the real rate."""
        import numpy as np

        confidence = self._confidence(x_clean)
        if self.calibration is None and self.min_confidence is None:
            self.min_confidence = 1.0 - threshold_for_fpr(1.0 - confidence, self.target_fpr)
        refused = confidence < float(self.min_confidence or 0.0)
        accuracy = None
        if y is not None:
            right = np.asarray(self.model.predict(x_clean)) == np.asarray(y)
            accuracy = float((right & ~refused).mean())
        self.calibration = Calibration(
            self.id, len(x_clean), float(refused.mean()), self.threshold, self.target_fpr, accuracy
        )
        return self.calibration

    def predict(self, x: NDArray[np.float32]) -> NDArray[np.int64]:
        """Labels, with :data:`REJECTED` (-1) where the model is uncertain."""
        import numpy as np

        labels = np.asarray(self.model.predict(x), dtype=np.int64).copy()
        labels[self.detect(x)] = REJECTED
        return labels

    def answer(self, x: NDArray[np.float32]) -> list[Answer]:
        """One :class:`Answer` per input: the label, or ``None`` and why it was refused."""
        import numpy as np

        if self.min_confidence is None:
            raise NotCalibrated("the confidence threshold has not been calibrated")
        tops = self._confidence(x)
        labels = np.asarray(self.model.predict(x), dtype=np.int64)
        out = []
        for label, top in zip(labels.tolist(), tops.tolist(), strict=True):
            if top < self.min_confidence:
                reason = f"uncertain: confidence {top:.3f} below {self.min_confidence:.3f}"
                out.append(Answer(None, reason, top))
            else:
                out.append(Answer(label, "", top))
        return out

    def score_tensor(
        self, x: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """Differentiable ``1 - top probability`` for adaptive attacks."""
        import torch

        return 1.0 - torch.softmax(forward(x), dim=1).amax(dim=1)
