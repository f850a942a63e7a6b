"""Shared vocabulary of the defences: calibration records, answers, and the defence kinds.

Three kinds of defence exist: a *preprocessor* changes the input before the model (median
smoothing, random noise), a *detector* scores how suspicious an input is and rejects it above
a threshold (feature squeezing, confidence threshold), and a *validator* refuses inputs that
break the training data's schema. Every defence states what it costs on clean data through
:class:`Calibration` (its false-positive rate), which the audit report shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlwarden.errors import MlwardenError
from mlwarden.models.base import UNCERTAIN

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray

#: The label a defended model answers when it refuses to answer (detected or uncertain);
#: the same value as :data:`mlwarden.models.base.UNCERTAIN`.
REJECTED: int = UNCERTAIN


class NotCalibrated(MlwardenError):
    """A defence that needs a threshold was used before ``calibrate``."""

    hint = "Call calibrate(X_clean) on clean, held-out inputs first (or pass a threshold)."


@dataclass(frozen=True)
class Calibration:
    """What a defence costs on clean inputs, measured when it was calibrated.

    Attributes:
        defense: the defence's id.
        samples: clean inputs it was measured on.
        false_positive_rate: fraction of clean inputs rejected (detectors, validators) or
            whose answer the defence changed (preprocessors).
        threshold: the decision threshold chosen, where there is one.
        target_fpr: the false-positive rate the threshold was chosen for, if any.
        clean_accuracy: accuracy of the defended model on the clean inputs, when labels
            were given (rejections count as errors).
    """

    defense: str
    samples: int
    false_positive_rate: float
    threshold: float | None = None
    target_fpr: float | None = None
    clean_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``Report.evidence``)."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Answer:
    """One answer of a defended model: a label, or ``None`` with the reason it was refused."""

    label: int | None
    reason: str = ""
    confidence: float | None = None

    @property
    def rejected(self) -> bool:
        return self.label is None


@runtime_checkable
class Preprocessor(Protocol):
    """Transforms inputs before the model sees them."""

    @property
    def id(self) -> str: ...

    #: False where the transform has no useful gradient (adaptive attacks then use BPDA).
    @property
    def differentiable(self) -> bool: ...

    #: True where two calls on the same input differ (adaptive attacks then use EOT).
    @property
    def randomized(self) -> bool: ...

    def transform(self, x: NDArray[np.float32]) -> NDArray[np.float32]: ...

    def transform_tensor(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Detector(Protocol):
    """Scores inputs (higher = more suspicious) and rejects those above its threshold."""

    @property
    def id(self) -> str: ...

    @property
    def calibration(self) -> Calibration | None: ...

    def score(self, x: NDArray[np.float32]) -> NDArray[np.float64]: ...

    def detect(self, x: NDArray[np.float32]) -> NDArray[np.bool_]: ...

    def calibrate(
        self, x_clean: NDArray[np.float32], y: NDArray[np.int64] | None = None
    ) -> Calibration: ...


def threshold_for_fpr(scores: NDArray[np.floating], target_fpr: float) -> float:
    """The smallest threshold that rejects at most ``target_fpr`` of ``scores`` (score > t)."""
    import numpy as np

    if not 0.0 <= target_fpr < 1.0:
        raise MlwardenError(f"target false-positive rate must be in [0, 1), not {target_fpr}")
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    if len(ordered) == 0:
        raise MlwardenError("cannot calibrate on zero clean inputs")
    allowed = int(np.floor(target_fpr * len(ordered)))
    return float(ordered[len(ordered) - 1 - allowed])
