"""Model adapters behind Protocols with declared capabilities (numpy required: the `audit` extra)."""

from mlwarden.models.base import (
    Capability,
    Classifier,
    DifferentiableClassifier,
    MissingCapability,
    ProbabilisticClassifier,
    require,
)

__all__ = [
    "Capability",
    "Classifier",
    "DifferentiableClassifier",
    "MissingCapability",
    "ProbabilisticClassifier",
    "require",
]
