"""What a white-box attack maximises, and how it knows it has succeeded (torch).

An :class:`Objective` maps a batch of inputs and their true labels to a per-sample loss (to
be maximised) and a per-sample success mask, from ONE forward pass: the attack loops never
run the model twice for the same iterate. Plain classifiers use cross-entropy or the DLR
loss (Croce & Hein 2020); defended models get adaptive objectives (``attacks/adaptive.py``);
randomised ones are wrapped in :class:`ExpectationOverTransforms`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

    Tensor = torch.Tensor

Forward = Callable[["Tensor"], "Tensor"]
LossName = Literal["ce", "dlr", "margin"]


class Objective:
    """Base class: ``evaluate(x, y) -> (loss, success)``, both of shape ``(n,)``."""

    #: Whether two evaluations of the same input may differ (EOT needed).
    randomized: bool = False

    def evaluate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per-sample loss to maximise and per-sample success (bool) for inputs ``x``."""
        raise NotImplementedError


def classification_loss(logits: Tensor, y: Tensor, loss: LossName) -> Tensor:
    """Per-sample ``ce`` (cross-entropy), ``dlr`` (scale-free margin) or ``margin`` loss."""
    import torch
    import torch.nn.functional as F

    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    true = logits.gather(1, y[:, None])[:, 0]
    others = logits.scatter(1, y[:, None], float("-inf"))
    margin = others.max(dim=1).values - true
    if loss == "margin":
        return margin
    # NOTE: DLR divides by the spread of the top logits so a model cannot hide behind
    # huge or tiny logit scales (Croce & Hein 2020, https://arxiv.org/abs/2003.01690).
    top = torch.topk(logits, k=min(3, logits.shape[1]), dim=1).values
    return margin / (top[:, 0] - top[:, -1] + 1e-12)


class ClassifierObjective(Objective):
    """Untargeted evasion of a classifier given by its logits function."""

    def __init__(self, forward: Forward, loss: LossName = "ce") -> None:
        self.forward = forward
        self.loss = loss

    def evaluate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.forward(x)
        return classification_loss(logits, y, self.loss), logits.argmax(dim=1) != y


class ExpectationOverTransforms(Objective):
    """EOT: average ``inner`` over ``samples`` random draws (Athalye et al. 2018).

    The gradient of the mean loss is the mean of the gradients; success is a majority vote,
    so a randomised defence that answers correctly half the time is not counted as beaten.
    """

    def __init__(self, inner: Objective, samples: int = 8) -> None:
        self.inner = inner
        self.samples = max(1, int(samples))

    def evaluate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        loss_sum, wins = None, None
        for _ in range(self.samples):
            loss, success = self.inner.evaluate(x, y)
            loss_sum = loss if loss_sum is None else loss_sum + loss
            wins = success.float() if wins is None else wins + success.float()
        if loss_sum is None or wins is None:  # pragma: no cover - samples >= 1
            raise ValueError("EOT needs at least one sample")
        return loss_sum / self.samples, wins * 2 > self.samples


def as_objective(target: Objective | Forward, loss: LossName = "ce") -> Objective:
    """``target`` itself when it is an :class:`Objective`, else a classifier objective."""
    if isinstance(target, Objective):
        return target
    return ClassifierObjective(target, loss)
