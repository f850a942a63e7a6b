"""Reusable guards against input manipulation (ML01), for plain Python code and the gateway.

Each defence states its cost on clean data (``calibrate`` returns a
:class:`~mlwarden.defenses.base.Calibration` with the false-positive rate). Torch is only
imported by the torch-specific parts (adversarial training, adaptive-attack twins).
"""

from mlwarden.defenses.adversarial_training import EpochStats, TrainingHistory, adversarial_train
from mlwarden.defenses.base import REJECTED, Answer, Calibration, NotCalibrated
from mlwarden.defenses.pipeline import DefendedClassifier
from mlwarden.defenses.schema import InputSchema, InputViolation, Violation
from mlwarden.defenses.smoothing import BitDepth, MedianSmoothing, RandomNoise
from mlwarden.defenses.squeeze import FeatureSqueezingDetector
from mlwarden.defenses.threshold import ConfidenceThreshold

__all__ = [
    "REJECTED",
    "Answer",
    "BitDepth",
    "Calibration",
    "ConfidenceThreshold",
    "DefendedClassifier",
    "EpochStats",
    "FeatureSqueezingDetector",
    "InputSchema",
    "InputViolation",
    "MedianSmoothing",
    "NotCalibrated",
    "RandomNoise",
    "TrainingHistory",
    "Violation",
    "adversarial_train",
]
