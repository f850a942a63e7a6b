"""White-box gradient attacks: FGSM and PGD (L-inf and L2, random starts, restarts).

Batched and vectorised: each batch runs the whole loop in torch tensors (one forward and one
backward per step, gradients w.r.t. the input only), and restarts run only on the samples
that are still robust. Random starts are drawn for the whole input at once per restart from
one ``torch.Generator(seed)``, so a plain hand-written loop seeded the same way reproduces
the result exactly (``tests/attacks/test_pgd.py`` checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlwarden.attacks import _torch_ops as ops
from mlwarden.attacks.objectives import Forward, LossName, Objective, as_objective
from mlwarden.attacks.results import AttackResult
from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray

    from mlwarden.attacks.threat import ThreatModel

    Tensor = torch.Tensor


def fgsm(
    target: Objective | Forward,
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    threat: ThreatModel,
    *,
    loss: LossName = "ce",
    batch_size: int = 512,
) -> AttackResult:
    """Fast Gradient (Sign) Method: one step of size ``eps`` from ``x`` (Goodfellow et al.).

    Args:
        target: the model's logits function (``torch.nn.Module`` or callable on tensors) or
            an :class:`~mlwarden.attacks.objectives.Objective` (defended models).
        x: inputs, ``float32`` of shape ``(n, *input_shape)``.
        y: true labels, shape ``(n,)``.
        threat: norm, eps and input bounds.
        loss: ``"ce"``, ``"dlr"`` or ``"margin"`` (plain classifiers only).
        batch_size: samples per forward/backward pass.
    """
    return pgd(
        target,
        x,
        y,
        threat,
        steps=1,
        step_size=threat.eps,
        random_start=False,
        loss=loss,
        batch_size=batch_size,
        name="fgsm",
    )


def pgd(
    target: Objective | Forward,
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    threat: ThreatModel,
    *,
    steps: int = 40,
    step_size: float | None = None,
    restarts: int = 1,
    random_start: bool = True,
    seed: int = 0,
    loss: LossName = "ce",
    batch_size: int = 512,
    early_stop: bool = True,
    name: str = "pgd",
) -> AttackResult:
    """Projected Gradient Descent (Madry et al. 2018) under ``threat.norm``.

    Each restart runs ``steps`` steps of size ``step_size`` (default ``2.5 * eps / steps``)
    from a random point of the ball (or from ``x`` without ``random_start``) and keeps its
    final iterate; a sample is adversarial when any restart's final iterate succeeds. With
    ``early_stop`` a sample leaves the batch at the first iterate that fools the model (that
    iterate is kept): the same or a stronger attack, for less compute. Without it, the
    result is the textbook loop's, step for step.

    Returns:
        An :class:`AttackResult`; ``x_adv`` is ``x`` where every restart failed.
    """
    import torch

    if steps < 1 or restarts < 1:
        raise UsageError("PGD needs steps >= 1 and restarts >= 1")
    objective = as_objective(target, loss)
    alpha = float(step_size) if step_size is not None else 2.5 * threat.eps / steps
    xt, yt = ops.as_tensor(x), torch.as_tensor(y, dtype=torch.int64)
    x_adv, success = xt.clone(), torch.zeros(len(xt), dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(restarts if random_start else 1):
        start = ops.random_start(xt, threat, generator) if random_start else xt
        todo = torch.nonzero(~success).flatten()
        for chunk in torch.split(todo, batch_size):
            xb, yb = xt[chunk], yt[chunk]
            run = _pgd_early if early_stop else _pgd_batch
            adv = run(objective, xb, yb, start[chunk], threat, steps, alpha)
            with torch.no_grad():
                won = objective.evaluate(adv, yb)[1]
            x_adv[chunk[won]] = adv[won]
            success[chunk[won]] = True
    return _result(name, threat, xt, x_adv, success)


def _pgd_batch(
    objective: Objective,
    x: Tensor,
    y: Tensor,
    start: Tensor,
    threat: ThreatModel,
    steps: int,
    alpha: float,
) -> Tensor:
    """The PGD loop on one batch; returns the final iterate."""
    import torch

    box = ops.linf_box(x, threat) if threat.norm == "linf" else (x, x)
    x_adv = start.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = objective.evaluate(x_adv, y)[0]
        (grad,) = torch.autograd.grad(loss.sum(), x_adv)
        # NOTE: detached arithmetic is not recorded by autograd, so no no_grad() is needed.
        stepped = x_adv.detach() + alpha * ops.ascent_direction(grad, threat.norm)
        x_adv = ops.project(x, stepped, threat, box)
    return x_adv.detach()


def _pgd_early(
    objective: Objective,
    x: Tensor,
    y: Tensor,
    start: Tensor,
    threat: ThreatModel,
    steps: int,
    alpha: float,
) -> Tensor:
    """The PGD loop, dropping each sample from the batch once an iterate fools the model."""
    import torch

    box = ops.linf_box(x, threat) if threat.norm == "linf" else (x, x)
    x_adv = start.clone()
    active = torch.arange(len(x))
    for _ in range(steps):
        current = x_adv[active].requires_grad_(True)
        loss, success = objective.evaluate(current, y[active])
        (grad,) = torch.autograd.grad(loss.sum(), current)
        keep = ~success
        active, grad = active[keep], grad[keep]
        if len(active) == 0:
            break
        stepped = current.detach()[keep] + alpha * ops.ascent_direction(grad, threat.norm)
        bounds = (box[0][active], box[1][active])
        x_adv[active] = ops.project(x[active], stepped, threat, bounds)
    return x_adv


def _result(
    name: str, threat: ThreatModel, x: Tensor, x_adv: Tensor, success: Tensor
) -> AttackResult:
    import numpy as np

    dist = ops.flat_norm(x_adv - x, threat.norm).double().cpu().numpy()
    won = success.cpu().numpy()
    return AttackResult(
        attack=name,
        norm=threat.norm,
        eps=threat.eps,
        x_adv=x_adv.detach().cpu().numpy().astype(np.float32, copy=False),
        success=won,
        distance=np.where(won, dist, np.inf),
    )
