"""What every evasion attack returns: adversarial inputs, success per sample, distances, queries.

The same :class:`AttackResult` comes out of white-box (FGSM, PGD, APGD) and black-box
(HopSkipJump, Square) attacks, so the evasion probe can merge them per sample: an input is
robust at ``eps`` only if no attack found an adversarial example within ``eps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.threat import Norm


@dataclass(frozen=True)
class AttackResult:
    """The outcome of one attack on a batch of inputs.

    Attributes:
        attack: the attack's name (``"pgd"``, ``"hopskipjump"``, ...).
        norm: the norm distances are measured in.
        eps: the budget the attack was bound to, or ``None`` for minimal-distance attacks
            (HopSkipJump), whose ``distance`` is the smallest change found.
        x_adv: adversarial inputs (``x`` itself where the attack failed).
        success: ``True`` where ``x_adv`` is adversarial (misclassified and, against a
            defended model, not rejected) within the budget.
        distance: ``||x_adv - x||`` per sample (``inf`` where the attack failed).
        queries: model queries spent per sample (black-box attacks), else ``None``.
    """

    attack: str
    norm: Norm
    eps: float | None
    x_adv: NDArray[np.float32]
    success: NDArray[np.bool_]
    distance: NDArray[np.float64]
    queries: NDArray[np.int64] | None = None

    @property
    def success_rate(self) -> float:
        """Fraction of the inputs for which an adversarial example was found."""
        return float(self.success.mean()) if len(self.success) else 0.0

    def success_within(self, eps: float) -> NDArray[np.bool_]:
        """Per sample: adversarial example found at distance ``<= eps``."""
        import numpy as np

        return np.asarray(self.success & (self.distance <= eps + 1e-6))

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: success rate, distance quantiles, mean queries."""
        import numpy as np

        found = self.distance[self.success]
        out: dict[str, Any] = {
            "attack": self.attack,
            "norm": self.norm,
            "eps": self.eps,
            "samples": len(self.success),
            "success_rate": round(self.success_rate, 4),
        }
        if len(found):
            qs = np.quantile(found, [0.0, 0.25, 0.5, 0.75, 1.0])
            out["distance_quantiles"] = dict(
                zip(
                    ("min", "q25", "median", "q75", "max"),
                    (round(float(q), 5) for q in qs),
                    strict=True,
                )
            )
        if self.queries is not None and len(self.queries):
            out["mean_queries"] = round(float(self.queries.mean()), 1)
            out["max_queries"] = int(self.queries.max())
        return out
