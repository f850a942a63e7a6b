"""PGD adversarial training for torch models (Madry et al. 2018).

Each mini-batch is attacked with a few PGD steps against the current weights, and the model
is trained on the adversarial batch (mixed with the clean one, so clean accuracy holds). The
attack is the same :mod:`mlwarden.attacks.pgd` the audit measures with, so the audit after
training tells honestly how much was gained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlwarden.attacks.threat import Norm, ThreatModel
from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray


@dataclass(frozen=True)
class EpochStats:
    """Training figures of one epoch (on the training batches as they were seen)."""

    epoch: int
    loss: float
    clean_accuracy: float
    adversarial_accuracy: float


@dataclass(frozen=True)
class TrainingHistory:
    """Per-epoch statistics of :func:`adversarial_train`."""

    epochs: tuple[EpochStats, ...] = field(default_factory=tuple)


def adversarial_train(
    module: torch.nn.Module,
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    eps: float,
    epochs: int = 10,
    *,
    norm: Norm = "linf",
    steps: int = 7,
    step_size: float | None = None,
    clean_weight: float = 0.5,
    batch_size: int = 64,
    lr: float = 1e-3,
    clip_min: float = 0.0,
    clip_max: float = 1.0,
    seed: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> TrainingHistory:
    """Train ``module`` in place on PGD adversarial examples.

    Args:
        module: a torch classifier returning logits; trained in place, left in eval mode.
        x: training inputs ``(n, *input_shape)``; y: labels ``(n,)``.
        eps: the perturbation budget trained against (under ``norm``).
        epochs: passes over the data.
        steps: PGD steps per batch; step_size: default ``2.5 * eps / steps``.
        clean_weight: weight of the clean loss (``0``: adversarial examples only).
        batch_size, lr, seed: mini-batch size, Adam learning rate, shuffling/start seed.
        clip_min, clip_max: input bounds.
        optimizer: an optimizer of your own instead of Adam.
        on_epoch: called with each epoch's statistics.
    """
    import torch
    import torch.nn.functional as F

    from mlwarden.attacks import _torch_ops as ops
    from mlwarden.attacks.objectives import ClassifierObjective
    from mlwarden.attacks.pgd import _pgd_batch

    if not 0.0 <= clean_weight <= 1.0 or epochs < 1 or steps < 1:
        raise UsageError("need 0 <= clean_weight <= 1, epochs >= 1 and steps >= 1")
    threat = ThreatModel(norm, eps, clip_min, clip_max)
    xt, yt = ops.as_tensor(x), torch.as_tensor(y, dtype=torch.int64)
    opt = optimizer or torch.optim.Adam(module.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    objective, alpha = ClassifierObjective(module), step_size or 2.5 * eps / steps
    history = []
    for epoch in range(epochs):
        totals = torch.zeros(3)
        for idx in torch.split(torch.randperm(len(xt), generator=gen), batch_size):
            xb, yb = xt[idx], yt[idx]
            module.eval()
            adv = _pgd_batch(
                objective, xb, yb, ops.random_start(xb, threat, gen), threat, steps, alpha
            )
            module.train()
            logits_adv, logits_clean = module(adv), module(xb)
            loss = (1 - clean_weight) * F.cross_entropy(logits_adv, yb)
            loss = loss + clean_weight * F.cross_entropy(logits_clean, yb)
            opt.zero_grad()
            torch.autograd.backward(loss)
            opt.step()
            totals += torch.stack(
                [
                    loss.detach() * len(idx),
                    (logits_clean.argmax(1) == yb).sum(),
                    (logits_adv.argmax(1) == yb).sum(),
                ]
            )
        stats = EpochStats(epoch + 1, *(float(v) / len(xt) for v in totals))
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)
    module.eval()
    return TrainingHistory(tuple(history))
