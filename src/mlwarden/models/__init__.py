"""Model adapters behind Protocols with declared capabilities (the `audit` extra: numpy).

The Protocols in :mod:`mlwarden.models.base` import nothing heavy; the adapters, the loader
and the conformance suite need numpy and are imported on first access.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mlwarden.models.base import (
    UNCERTAIN,
    Capability,
    Classifier,
    DifferentiableClassifier,
    MissingCapability,
    ProbabilisticClassifier,
    require,
)
from mlwarden.models.errors import (
    AdapterCheckFailed,
    InputShapeError,
    ModelLoadError,
    ModelOutputError,
    QueryBudgetExceeded,
    RemoteModelError,
    UnsafeModel,
)

if TYPE_CHECKING:
    from mlwarden.models.callable_adapter import CallableClassifier
    from mlwarden.models.check import adapter_checks, check_adapter
    from mlwarden.models.http_adapter import HttpClassifier
    from mlwarden.models.loading import load_model
    from mlwarden.models.onnx_adapter import OnnxClassifier
    from mlwarden.models.sklearn_adapter import SklearnClassifier
    from mlwarden.models.threads import single_thread
    from mlwarden.models.torch_adapter import TorchClassifier

_LAZY = {
    "CallableClassifier": "mlwarden.models.callable_adapter",
    "HttpClassifier": "mlwarden.models.http_adapter",
    "OnnxClassifier": "mlwarden.models.onnx_adapter",
    "SklearnClassifier": "mlwarden.models.sklearn_adapter",
    "TorchClassifier": "mlwarden.models.torch_adapter",
    "adapter_checks": "mlwarden.models.check",
    "check_adapter": "mlwarden.models.check",
    "load_model": "mlwarden.models.loading",
    "single_thread": "mlwarden.models.threads",
}

__all__ = [
    "UNCERTAIN",
    "AdapterCheckFailed",
    "CallableClassifier",
    "Capability",
    "Classifier",
    "DifferentiableClassifier",
    "HttpClassifier",
    "InputShapeError",
    "MissingCapability",
    "ModelLoadError",
    "ModelOutputError",
    "OnnxClassifier",
    "ProbabilisticClassifier",
    "QueryBudgetExceeded",
    "RemoteModelError",
    "SklearnClassifier",
    "TorchClassifier",
    "UnsafeModel",
    "adapter_checks",
    "check_adapter",
    "load_model",
    "require",
    "single_thread",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlwarden.models' has no attribute {name!r}")
    return getattr(import_module(module), name)
