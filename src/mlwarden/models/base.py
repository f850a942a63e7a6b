"""What an attack may ask of a model: capability Protocols and the check that enforces them.

Every adapter (scikit-learn, ONNX Runtime, PyTorch, a remote HTTP endpoint, a plain callable)
declares the capabilities it really has in ``capabilities``; an attack calls :func:`require`
before it starts, so a missing capability is an error that names it, not a crash halfway.

Conventions (all adapters): inputs are ``float32`` arrays of shape ``(n, *input_shape)``;
``predict`` returns ``int64`` labels of shape ``(n,)``; ``predict_proba`` returns ``(n, k)``
probabilities; ``loss_gradient`` returns d(cross-entropy)/d(input) with the input's shape;
every call counts its samples in ``queries`` (query budgets of black-box attacks).
mlwarden's adapters also expose ``clip``: the ``(low, high)`` bounds of valid inputs, or
``None`` when the input domain is unbounded (attacks keep adversarial inputs inside it).
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from mlwarden.errors import MlwardenError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


#: The label an adapter returns for an input the model (or a defence in front of it) declined
#: to classify: mlwarden's gateway answers ``null`` when its confidence threshold is not met.
UNCERTAIN: int = -1


class Capability(str, Enum):
    """One thing a model adapter can do."""

    PREDICT = "predict"
    PREDICT_PROBA = "predict_proba"
    LOGITS = "logits"
    LOSS_GRADIENT = "loss_gradient"
    EMBED = "embed"


class MissingCapability(MlwardenError):
    """An attack or check needs a capability the model does not offer."""

    hint = (
        "Use an adapter that offers it (e.g. a PyTorch model for gradients), or choose a "
        "black-box probe."
    )


@runtime_checkable
class Classifier(Protocol):
    """A model that answers labels."""

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    @property
    def n_classes(self) -> int: ...

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    @property
    def queries(self) -> int: ...

    def predict(self, x: NDArray[np.float32]) -> NDArray[np.int64]: ...


@runtime_checkable
class ProbabilisticClassifier(Classifier, Protocol):
    """A model that also answers class probabilities."""

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]: ...


@runtime_checkable
class DifferentiableClassifier(ProbabilisticClassifier, Protocol):
    """A model whose logits and loss gradients w.r.t. the input are available (white-box)."""

    def logits(self, x: NDArray[np.float32]) -> NDArray[np.float32]: ...

    def loss_gradient(
        self, x: NDArray[np.float32], y: NDArray[np.int64]
    ) -> NDArray[np.float32]: ...


def require(model: object, *needed: Capability, purpose: str = "this probe") -> None:
    """Raise :class:`MissingCapability` naming every capability ``model`` lacks."""
    have: frozenset[Capability] = getattr(model, "capabilities", frozenset())
    missing = [c.value for c in needed if c not in have]
    if missing:
        name = type(model).__name__
        raise MissingCapability(f"{purpose} needs {', '.join(missing)}; {name} does not offer it")
