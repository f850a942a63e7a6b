"""Finding the white-box access a model offers: a torch logits function or NumPy gradients.

Adapters that wrap torch expose ``forward_tensor`` (tensor in, logits out) or
``torch_module``; those give the fastest, most flexible attacks (any loss, adaptive
objectives). Other differentiable adapters that only answer ``loss_gradient`` get a
cross-entropy objective bridged into torch's autograd.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from mlwarden.attacks.objectives import ClassifierObjective, Forward, Objective
from mlwarden.models.base import Capability

if TYPE_CHECKING:
    import torch

    Tensor = torch.Tensor


def torch_forward(model: object) -> Forward | None:
    """The model's logits function on torch tensors, or ``None`` when it has none."""
    forward = getattr(model, "forward_tensor", None)
    if callable(forward):
        return forward  # type: ignore[no-any-return]
    module = getattr(model, "torch_module", None)
    if callable(module):
        return module  # type: ignore[no-any-return]
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return model  # type: ignore[no-any-return]
    return None


def whitebox_objective(model: object) -> Objective | None:
    """A cross-entropy objective for ``model`` if it is white-box, else ``None``."""
    forward = torch_forward(model)
    if forward is not None:
        return ClassifierObjective(forward)
    caps: frozenset[Capability] = getattr(model, "capabilities", frozenset())
    if {Capability.LOSS_GRADIENT, Capability.LOGITS} <= set(caps):
        return NumpyGradientObjective(model)
    return None


class NumpyGradientObjective(Objective):
    """Cross-entropy of a model that answers ``logits`` and ``loss_gradient`` in NumPy."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def evaluate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        loss, logits = _bridge().apply(x, y, self.model)
        return loss, logits.argmax(dim=1) != y


def _bridge() -> Any:
    """The autograd function (built lazily: torch is optional)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    class _CrossEntropyFromNumpy(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, y: Tensor, model: Any) -> tuple[Tensor, Tensor]:
            arr = x.detach().cpu().numpy().astype(np.float32)
            logits = torch.as_tensor(np.asarray(model.logits(arr), dtype=np.float32))
            ctx.model, ctx.arr, ctx.labels = model, arr, y.detach().cpu().numpy()
            return F.cross_entropy(logits, y.cpu(), reduction="none"), logits

        @staticmethod
        def backward(ctx: Any, grad_loss: Tensor, grad_logits: Tensor) -> tuple[Any, ...]:
            # NOTE: autograd runs backward() with grad mode off; an adapter that computes its
            # gradient with torch itself needs it back on.
            with torch.enable_grad():
                grad = torch.as_tensor(np.asarray(ctx.model.loss_gradient(ctx.arr, ctx.labels)))
            scale = grad_loss.reshape((-1,) + (1,) * (grad.dim() - 1))
            return grad.to(torch.float32) * scale, None, None

    return _CrossEntropyFromNumpy
