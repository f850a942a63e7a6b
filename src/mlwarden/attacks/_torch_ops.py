"""Tensor helpers of the white-box attacks: steps, projections and random starts per norm.

Everything works on a whole batch at once (per-sample norms by reshaping to ``(n, -1)``), so
the attack loops stay free of Python-level per-sample work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import NDArray

    from mlwarden.attacks.threat import ThreatModel

    Tensor = torch.Tensor


def as_tensor(x: NDArray[np.floating] | Tensor) -> Tensor:
    """A contiguous float32 CPU-or-device tensor sharing memory with ``x`` where possible."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float32).contiguous()
    return torch.as_tensor(x, dtype=torch.float32).contiguous()


def flat_norm(t: Tensor, norm: str) -> Tensor:
    """Per-sample norm of ``t`` (shape ``(n,)``)."""
    flat = t.reshape(t.shape[0], -1)
    out: Tensor = flat.abs().amax(dim=1) if norm == "linf" else flat.norm(p=2, dim=1)
    return out


def _per_sample(v: Tensor, like: Tensor) -> Tensor:
    return v.reshape((-1,) + (1,) * (like.dim() - 1))


def l2_unit(g: Tensor) -> Tensor:
    """``g`` scaled to unit L2 length per sample (zero stays zero)."""
    return g / _per_sample(flat_norm(g, "l2").clamp_min(1e-12), g)


def linf_box(x: Tensor, threat: ThreatModel) -> tuple[Tensor, Tensor]:
    """Element-wise bounds of the L-inf ball intersected with the input box."""
    lo = (x - threat.eps).clamp_min(threat.clip_min)
    hi = (x + threat.eps).clamp_max(threat.clip_max)
    return lo, hi


def project_l2(x: Tensor, x_adv: Tensor, threat: ThreatModel) -> Tensor:
    """Project ``x_adv`` onto the L2 ball of radius ``eps`` around ``x``, then the box."""
    delta = x_adv - x
    scale = (threat.eps / flat_norm(delta, "l2").clamp_min(1e-12)).clamp_max(1.0)
    return (x + delta * _per_sample(scale, delta)).clamp(threat.clip_min, threat.clip_max)


def project(x: Tensor, x_adv: Tensor, threat: ThreatModel, box: tuple[Tensor, Tensor]) -> Tensor:
    """Project onto the threat model (``box`` = :func:`linf_box` for L-inf)."""
    if threat.norm == "linf":
        return torch_clamp(x_adv, box)
    return project_l2(x, x_adv, threat)


def torch_clamp(t: Tensor, box: tuple[Tensor, Tensor]) -> Tensor:
    import torch

    return torch.clamp(t, min=box[0], max=box[1])


def ascent_direction(g: Tensor, norm: str) -> Tensor:
    """Steepest-ascent direction of the gradient under ``norm`` (sign or unit L2)."""
    return g.sign() if norm == "linf" else l2_unit(g)


def random_start(x: Tensor, threat: ThreatModel, generator: torch.Generator) -> Tensor:
    """A random point of the threat model around ``x`` (uniform in the L-inf ball; for L2
    uniform direction and radius ``eps * u**(1/d)``), drawn for the whole of ``x`` at once."""
    import torch

    if threat.norm == "linf":
        noise = (torch.rand(x.shape, generator=generator) * 2 - 1) * threat.eps
        return (x + noise.to(x.device)).clamp(threat.clip_min, threat.clip_max)
    direction = l2_unit(torch.randn(x.shape, generator=generator))
    d = direction[0].numel()
    radius = threat.eps * torch.rand(x.shape[0], generator=generator) ** (1.0 / d)
    delta = direction * _per_sample(radius, direction)
    return (x + delta.to(x.device)).clamp(threat.clip_min, threat.clip_max)
