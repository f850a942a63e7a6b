"""Output policies: how much of the model's answer a caller gets (ML03/ML04/ML05 mitigation).

``label`` answers the class only; ``top_k`` the k best classes with their scores;
``rounded`` every probability rounded to N decimals; ``probabilities`` everything. Less
output makes membership inference, inversion and extraction harder, but not impossible:
the audit measures how much each policy buys (a label-only surrogate still copies a model).
The gateway applies the same :class:`OutputPolicy` to its answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlwarden.errors import UsageError
from mlwarden.models.base import Capability

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

PolicyKind = Literal["probabilities", "rounded", "top_k", "label"]
_KINDS = ("probabilities", "rounded", "top_k", "label")


@dataclass(frozen=True)
class OutputPolicy:
    """What an answer reveals.

    Args:
        kind: ``probabilities``, ``rounded``, ``top_k`` or ``label``.
        decimals: digits kept by ``rounded``.
        k: classes kept by ``top_k``.
    """

    kind: PolicyKind = "label"
    decimals: int = 2
    k: int = 1

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise UsageError(
                f"unknown output policy {self.kind!r}; choose one of {', '.join(_KINDS)}"
            )
        if self.decimals < 0 or self.k < 1:
            raise UsageError("output policy needs decimals >= 0 and k >= 1")

    @classmethod
    def parse(cls, text: str) -> OutputPolicy:
        """``"label"``, ``"top_k:3"``, ``"rounded:2"`` or ``"probabilities"``."""
        kind, _, arg = text.strip().partition(":")
        kind = kind.replace("-", "_").lower()
        try:
            if kind == "rounded":
                return cls("rounded", decimals=int(arg or 2))
            if kind == "top_k":
                return cls("top_k", k=int(arg or 1))
        except ValueError:
            raise UsageError(
                f"bad output policy {text!r}: the value after ':' is a number"
            ) from None
        return cls(kind)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        """Stable display name: ``label``, ``top_k:1``, ``rounded:2``, ``probabilities``."""
        if self.kind == "rounded":
            return f"rounded:{self.decimals}"
        if self.kind == "top_k":
            return f"top_k:{self.k}"
        return self.kind

    @property
    def gives_scores(self) -> bool:
        """Whether answers carry any score (all but ``label``)."""
        return self.kind != "label"

    def apply(self, proba: NDArray[np.floating]) -> NDArray[np.float32]:
        """What a caller sees of ``proba`` ``(n, k)``, as an ``(n, k)`` array.

        ``label`` gives one-hot rows; ``top_k`` zeroes all but the k highest scores (not
        renormalised: the caller learns only those); ``rounded`` rounds (rows may not sum to 1).
        """
        import numpy as np

        p = np.asarray(proba, dtype=np.float64)
        if self.kind == "probabilities":
            return p.astype(np.float32)
        if self.kind == "rounded":
            return np.round(p, self.decimals).astype(np.float32)
        keep = min(self.k, p.shape[1]) if self.kind == "top_k" else 1
        order = np.argsort(-p, axis=1, kind="stable")[:, :keep]
        out = np.zeros_like(p)
        rows = np.arange(len(p))[:, None]
        out[rows, order] = p[rows, order] if self.kind == "top_k" else 1.0
        return out.astype(np.float32)

    def answer(self, proba: NDArray[np.floating]) -> list[dict[str, Any]]:
        """JSON-ready answers (what the gateway sends): label, and scores the policy allows."""
        import numpy as np

        p = np.asarray(proba, dtype=np.float64)
        labels = np.argmax(p, axis=1)
        if self.kind == "label":
            return [{"label": int(c)} for c in labels]
        shown = self.apply(p)
        if self.kind == "top_k":
            keep = min(self.k, p.shape[1])
            order = np.argsort(-p, axis=1, kind="stable")[:, :keep]
            return [
                {"label": int(c), "top": [[int(j), float(shown[i, j])] for j in order[i]]}
                for i, c in enumerate(labels)
            ]
        return [
            {"label": int(c), "probabilities": [float(v) for v in shown[i]]}
            for i, c in enumerate(labels)
        ]


class PolicyClassifier:
    """A probabilistic model seen through an output policy (for audits and tests).

    Labels come from the model's full answer (rounding must not change the label);
    ``predict_proba`` returns what the policy reveals and is absent under ``label``.

    Args:
        model: a model with ``predict_proba``.
        policy: the policy applied to its answers.
    """

    def __init__(self, model: Any, policy: OutputPolicy) -> None:
        self.model = model
        self.policy = policy
        self.clip = getattr(model, "clip", None)

    def __repr__(self) -> str:
        return f"PolicyClassifier({self.model!r}, {self.policy.name})"

    @property
    def capabilities(self) -> frozenset[Capability]:
        if self.policy.gives_scores:
            return frozenset({Capability.PREDICT, Capability.PREDICT_PROBA})
        return frozenset({Capability.PREDICT})

    @property
    def n_classes(self) -> int:
        return int(self.model.n_classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.input_shape)

    @property
    def queries(self) -> int:
        return int(self.model.queries)

    def predict(self, x: NDArray[np.float32]) -> NDArray[np.int64]:
        """The model's labels (unchanged by the policy)."""
        import numpy as np

        return np.asarray(self.model.predict(x), dtype=np.int64)

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """The scores the policy reveals; an error under ``label``."""
        from mlwarden.models.base import MissingCapability

        if not self.policy.gives_scores:
            raise MissingCapability("the label output policy reveals no scores")
        return self.policy.apply(self.model.predict_proba(x))
