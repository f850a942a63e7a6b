"""The threat model of an evasion attack (norm, epsilon, input bounds) and distances under it.

A :class:`ThreatModel` says what the attacker may change: every adversarial input ``x'``
satisfies ``||x' - x||_norm <= eps`` and ``clip_min <= x' <= clip_max`` element-wise. The
NumPy helpers here are shared by the black-box attacks and the reports; the white-box attacks
apply the same rules to torch tensors (``attacks/_torch_ops.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from mlwarden.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

Norm = Literal["linf", "l2"]
NORMS: tuple[Norm, ...] = ("linf", "l2")


@dataclass(frozen=True)
class ThreatModel:
    """What an attacker may do to one input.

    Attributes:
        norm: ``"linf"`` (every feature moves by at most ``eps``) or ``"l2"`` (the Euclidean
            length of the whole change is at most ``eps``).
        eps: the perturbation budget, in input units.
        clip_min: the smallest value any input feature may take (e.g. 0 for images).
        clip_max: the largest value any input feature may take (e.g. 1 for images).
    """

    norm: Norm = "linf"
    eps: float = 0.1
    clip_min: float = 0.0
    clip_max: float = 1.0

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise UsageError(f"unknown norm {self.norm!r}; choose one of {', '.join(NORMS)}")
        if not math.isfinite(self.eps) or self.eps < 0:
            raise UsageError(f"eps must be a finite number >= 0, not {self.eps!r}")
        if not (math.isfinite(self.clip_min) and math.isfinite(self.clip_max)):
            raise UsageError("clip_min and clip_max must be finite")
        if self.clip_min >= self.clip_max:
            raise UsageError(f"clip_min ({self.clip_min}) must be below clip_max ({self.clip_max})")

    def with_eps(self, eps: float) -> ThreatModel:
        """The same threat model with another budget."""
        return replace(self, eps=float(eps))


def distances(
    x: NDArray[np.floating], x_adv: NDArray[np.floating], norm: Norm
) -> NDArray[np.float64]:
    """Per-sample distance ``||x_adv - x||`` under ``norm`` (shape ``(n,)``)."""
    import numpy as np

    diff = (np.asarray(x_adv, dtype=np.float64) - np.asarray(x, dtype=np.float64)).reshape(
        len(x), -1
    )
    if norm == "linf":
        out: NDArray[np.float64] = np.abs(diff).max(axis=1, initial=0.0)
    else:
        out = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def project(
    x: NDArray[np.float32], x_adv: NDArray[np.float32], threat: ThreatModel
) -> NDArray[np.float32]:
    """The point nearest to ``x_adv`` that the threat model allows around ``x``."""
    import numpy as np

    delta = (x_adv - x).reshape(len(x), -1)
    if threat.norm == "linf":
        delta = np.clip(delta, -threat.eps, threat.eps)
    else:
        norms = np.linalg.norm(delta, axis=1, keepdims=True)
        delta = delta * np.minimum(1.0, threat.eps / np.maximum(norms, 1e-12))
    out: NDArray[np.float32] = np.clip(
        x + delta.reshape(x.shape), threat.clip_min, threat.clip_max
    ).astype(np.float32, copy=False)
    return out
