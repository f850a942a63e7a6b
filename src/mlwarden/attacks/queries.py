"""Black-box model access with a query budget per sample, batched across samples.

Black-box attacks keep per-sample state in arrays and ask about many samples' candidate
points in ONE model call; :class:`QueryOracle` splits very large calls into chunks, counts
queries per sample (the budget of each sample is enforced by the attacks through
:meth:`QueryOracle.remaining`) and turns answers into decisions or margins.
:class:`BatchedRun` is the state and the result that HopSkipJump and Square share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from mlwarden.attacks.results import AttackResult
from mlwarden.models.base import Capability, require

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.attacks.threat import Norm, ThreatModel
    from mlwarden.models.base import Classifier

P = TypeVar("P")


class QueryOracle:
    """Count and batch the queries of an attack on ``n`` samples.

    Args:
        model: any classifier (``predict``; ``predict_proba`` or ``logits`` for scores).
        y: the label each sample must move away from (untargeted), shape ``(n,)``.
        budget: queries allowed per sample.
        max_batch: the most points sent to the model in one call.
    """

    def __init__(
        self, model: Classifier, y: NDArray[np.integer], budget: int, max_batch: int = 8192
    ) -> None:
        import numpy as np

        self.model = model
        self.y = np.asarray(y, dtype=np.int64)
        self.budget = int(budget)
        self.max_batch = max(1, int(max_batch))
        self.used = np.zeros(len(self.y), dtype=np.int64)

    def remaining(self) -> NDArray[np.int64]:
        """Queries each sample may still spend."""
        import numpy as np

        return np.maximum(self.budget - self.used, 0)

    def _count(self, owners: NDArray[np.integer]) -> None:
        import numpy as np

        np.add.at(self.used, owners, 1)

    def predict(
        self, points: NDArray[np.floating], owners: NDArray[np.integer]
    ) -> NDArray[np.int64]:
        """Labels of ``points``; ``owners[i]`` is the sample that ``points[i]`` is charged to."""
        import numpy as np

        self._count(owners)
        if len(points) == 0:
            return np.zeros(0, dtype=np.int64)
        parts = [
            np.asarray(self.model.predict(points[i : i + self.max_batch].astype(np.float32)))
            for i in range(0, len(points), self.max_batch)
        ]
        return np.concatenate(parts).astype(np.int64, copy=False)

    def is_adversarial(
        self, points: NDArray[np.floating], owners: NDArray[np.integer]
    ) -> NDArray[np.bool_]:
        """Whether each point gets a label other than its owner's (a refusal, label -1 from a
        defended model, is not an evasion)."""
        import numpy as np

        labels = self.predict(points, owners)
        return np.asarray((labels != self.y[owners]) & (labels >= 0))

    def margins(
        self, points: NDArray[np.floating], owners: NDArray[np.integer]
    ) -> NDArray[np.float64]:
        """``score[y] - max(other scores)`` per point (negative = adversarial).

        Uses logits when the model offers them (the loss of the original Square attack),
        else probabilities.
        """
        import numpy as np

        caps = self.model.capabilities
        if Capability.LOGITS not in caps:
            require(self.model, Capability.PREDICT_PROBA, purpose="a score-based attack")
        fn = getattr(self.model, "logits" if Capability.LOGITS in caps else "predict_proba")
        self._count(owners)
        if len(points) == 0:
            return np.zeros(0)
        scores = np.concatenate(
            [
                np.asarray(fn(points[i : i + self.max_batch].astype(np.float32)), dtype=np.float64)
                for i in range(0, len(points), self.max_batch)
            ]
        )
        labels = self.y[owners]
        rows = np.arange(len(scores))
        true = scores[rows, labels].copy()
        scores[rows, labels] = -np.inf
        return np.asarray(true - scores.max(axis=1))


class BatchedRun(Generic[P]):
    """State every batched black-box attack keeps: the oracle, the originals, the threat
    model, its parameters (with a ``seed``) and a random generator seeded from them."""

    def __init__(
        self,
        oracle: QueryOracle,
        x: NDArray[np.float32],
        shape: tuple[int, ...],
        threat: ThreatModel,
        params: P,
    ) -> None:
        import numpy as np

        self.oracle, self.x, self.shape, self.threat, self.p = oracle, x, shape, threat, params
        self.rng = np.random.default_rng(getattr(params, "seed", 0))
        self.prepare()

    def prepare(self) -> None:
        """Derived state of a subclass (called at the end of ``__init__``)."""

    def result(
        self,
        attack: str,
        norm: Norm,
        eps: float | None,
        x_adv: NDArray[np.floating],
        found: NDArray[np.bool_],
        dist: NDArray[np.floating],
    ) -> AttackResult:
        """The :class:`AttackResult` of the run (distance ``inf`` where nothing was found)."""
        import numpy as np

        return AttackResult(
            attack=attack,
            norm=norm,
            eps=eps,
            x_adv=x_adv.astype(np.float32),
            success=found,
            distance=np.where(found, dist, np.inf),
            queries=self.oracle.used.copy(),
        )
