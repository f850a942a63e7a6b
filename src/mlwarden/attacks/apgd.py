"""APGD: step-size-free PGD with momentum and step halving at checkpoints (Croce & Hein 2020).

No step size to tune: each sample starts with step ``2 * eps`` and halves it at checkpoints
where the loss stopped improving often enough, restarting from its best point; a momentum
term (0.75) smooths the path. Any iterate that fools the model is kept. Vectorised per
sample (each sample has its own step size); see https://arxiv.org/abs/2003.01690.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlwarden.attacks import _torch_ops as ops
from mlwarden.attacks.objectives import Forward, LossName, Objective, as_objective
from mlwarden.attacks.pgd import _result
from mlwarden.attacks.results import AttackResult
from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray

    from mlwarden.attacks.threat import ThreatModel

    Tensor = torch.Tensor

_MOMENTUM = 0.75
_RHO = 0.75


def checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD may halve its step (``p_0 = 0, p_1 = 0.22, ...``)."""
    fractions = [0.0, 0.22]
    while fractions[-1] < 1.0:
        fractions.append(fractions[-1] + max(fractions[-1] - fractions[-2] - 0.03, 0.06))
    return sorted({math.ceil(p * steps) for p in fractions if 0 < p < 1.0})


def apgd(
    target: Objective | Forward,
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    threat: ThreatModel,
    *,
    steps: int = 100,
    restarts: int = 1,
    seed: int = 0,
    loss: LossName = "ce",
    batch_size: int = 512,
) -> AttackResult:
    """Run APGD (``loss="ce"``: APGD-CE; ``"dlr"``: APGD-DLR) from random starts.

    Args:
        target: logits function or :class:`~mlwarden.attacks.objectives.Objective`.
        x: inputs ``(n, *input_shape)``; y: true labels ``(n,)``.
        threat: norm, eps and input bounds.
        steps: iterations per restart; restarts: random restarts on still-robust samples.
        seed: seeds the random starts; loss: the loss maximised.
        batch_size: samples per forward/backward pass.
    """
    import torch

    if steps < 2 or restarts < 1:
        raise UsageError("APGD needs steps >= 2 and restarts >= 1")
    objective = as_objective(target, loss)
    xt, yt = ops.as_tensor(x), torch.as_tensor(y, dtype=torch.int64)
    x_adv, success = xt.clone(), torch.zeros(len(xt), dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    marks = checkpoints(steps)
    for _ in range(restarts):
        start = ops.random_start(xt, threat, generator)
        for chunk in torch.split(torch.nonzero(~success).flatten(), batch_size):
            run = _Run(objective, xt[chunk], yt[chunk], threat)
            adv, won = run.attack(start[chunk], steps, marks)
            x_adv[chunk[won]] = adv[won]
            success[chunk[won]] = True
    return _result("apgd", threat, xt, x_adv, success)


@dataclass
class _Best:
    """Per-sample best point so far (highest loss) and the first adversarial found."""

    x: Tensor
    loss: Tensor
    grad: Tensor
    adv: Tensor
    found: Tensor


class _Run:
    """One APGD run on one batch."""

    def __init__(self, objective: Objective, x: Tensor, y: Tensor, threat: ThreatModel) -> None:
        self.objective, self.x, self.y, self.threat = objective, x, y, threat
        self.box = ops.linf_box(x, threat) if threat.norm == "linf" else (x, x)

    def _grad(self, x_adv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        import torch

        x_adv = x_adv.detach().requires_grad_(True)
        loss, success = self.objective.evaluate(x_adv, self.y)
        (grad,) = torch.autograd.grad(loss.sum(), x_adv)
        return loss.detach(), success.detach(), grad

    def _step(self, x_cur: Tensor, grad: Tensor, eta: Tensor) -> Tensor:
        scale = eta.reshape((-1,) + (1,) * (x_cur.dim() - 1))
        direction = ops.ascent_direction(grad, self.threat.norm)
        return ops.project(self.x, x_cur + scale * direction, self.threat, self.box)

    def attack(self, start: Tensor, steps: int, marks: list[int]) -> tuple[Tensor, Tensor]:
        """Run ``steps`` iterations; returns (adversarial or best point, success mask)."""
        import torch

        loss, success, grad = self._grad(start)
        best = _Best(start.clone(), loss, grad, start.clone(), success.clone())
        eta = torch.full((len(start),), 2.0 * self.threat.eps)
        x_prev, x_cur = start, self._step(start, grad, eta)
        increases, loss_prev = torch.zeros(len(start)), loss
        last_mark, last_eta, last_best = 0, eta.clone(), loss.clone()
        for k in range(1, steps):
            loss, success, grad = self._grad(x_cur)
            self._record(best, x_cur, loss, success, grad)
            increases += (loss > loss_prev).float()
            loss_prev = loss
            if k in marks:
                reduce = (increases < _RHO * (k - last_mark)) | (
                    (last_eta == eta) & (last_best == best.loss)
                )
                eta = torch.where(reduce, eta / 2, eta)
                x_cur = torch.where(_col(reduce, x_cur), best.x, x_cur)
                grad = torch.where(_col(reduce, grad), best.grad, grad)
                increases.zero_()
                last_mark, last_eta, last_best = k, eta.clone(), best.loss.clone()
            z = self._step(x_cur, grad, eta)
            moved = x_cur + _MOMENTUM * (z - x_cur) + (1 - _MOMENTUM) * (x_cur - x_prev)
            x_prev, x_cur = x_cur, ops.project(self.x, moved, self.threat, self.box)
        with torch.no_grad():
            final = self.objective.evaluate(x_cur, self.y)[1]
        best.adv = torch.where(_col(final & ~best.found, x_cur), x_cur, best.adv)
        return best.adv, best.found | final

    @staticmethod
    def _record(best: _Best, x_cur: Tensor, loss: Tensor, success: Tensor, grad: Tensor) -> None:
        import torch

        new_adv = success & ~best.found
        best.adv = torch.where(_col(new_adv, x_cur), x_cur, best.adv)
        best.found |= success
        better = loss > best.loss
        best.x = torch.where(_col(better, x_cur), x_cur, best.x)
        best.grad = torch.where(_col(better, grad), grad, best.grad)
        best.loss = torch.where(better, loss, best.loss)


def _col(mask: Tensor, like: Tensor) -> Tensor:
    return mask.reshape((-1,) + (1,) * (like.dim() - 1))
