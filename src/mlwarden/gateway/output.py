"""ML03/ML04/ML05 output minimisation: label (default), top-k or rounded probabilities.

What a caller may see is computed by :class:`mlwarden.defenses.output_policy.OutputPolicy`
(the policy the privacy audit measures); this module shapes it into the API's answer, in one
place for every route (v1 and OIP), so no path returns more than the policy allows; error
bodies never carry model outputs at all. An uncertain or detected instance is ``null``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.defenses.output_policy import OutputPolicy, PolicyKind
from mlwarden.gateway.adversarial import OK
from mlwarden.gateway.policy import OutputPolicyConfig

#: The gateway's modes as output policies: probabilities are always rounded.
_KINDS: dict[str, PolicyKind] = {"label": "label", "top_k": "top_k", "probabilities": "rounded"}


class OutputShaper:
    """Builds answers that reveal no more than the output policy allows.

    Args:
        policy: the ``[gateway.output]`` section.
        classes: the model's labels in class-index order.
        model: ``{"name", "digest"}`` of the served model (bound into every answer).
    """

    def __init__(
        self, policy: OutputPolicyConfig, classes: list[Any], model: dict[str, str]
    ) -> None:
        self.policy = policy
        self.classes = list(classes)
        self.model = dict(model)
        self.top_k = min(policy.top_k, len(self.classes))
        self.rule = OutputPolicy(_KINDS[policy.mode], decimals=policy.decimals, k=self.top_k)

    @property
    def outputs(self) -> list[str]:
        """What ``POST /v1/predict`` answers (listed in ``GET /v1/model``)."""
        extra = {"label": [], "top_k": ["top_k"], "probabilities": ["probabilities"]}
        return ["predictions", *extra[self.policy.mode]]

    @property
    def exposes_probabilities(self) -> bool:
        return self.policy.mode == "probabilities"

    def labels(self, proba: NDArray[np.float32], decisions: list[str]) -> list[Any]:
        """One label per instance, ``None`` where a control declined to answer."""
        best = proba.argmax(axis=1).tolist()
        return [self.classes[b] if d == OK else None for b, d in zip(best, decisions, strict=False)]

    def shown(self, proba: NDArray[np.float32]) -> NDArray[np.float64]:
        """What the output policy reveals of ``proba``, as clean decimals."""
        revealed = self.rule.apply(proba).astype(np.float64)
        out: NDArray[np.float64] = np.round(revealed, self.policy.decimals)
        return out

    def answer(self, proba: NDArray[np.float32], decisions: list[str]) -> dict[str, Any]:
        """The ``POST /v1/predict`` body for these probabilities and decisions."""
        body: dict[str, Any] = {"predictions": self.labels(proba, decisions)}
        if self.policy.mode == "probabilities":
            body["probabilities"] = self.shown(proba).tolist()
        elif self.policy.mode == "top_k":
            body["top_k"] = self._top_k(proba)
        body["model"] = self.model
        return body

    def _top_k(self, proba: NDArray[np.float32]) -> list[list[list[Any]]]:
        order = np.argsort(-proba, axis=1, kind="stable")[:, : self.top_k]
        values = np.take_along_axis(self.shown(proba), order, axis=1)
        return [
            [[self.classes[c], p] for c, p in zip(row_c, row_p, strict=True)]
            for row_c, row_p in zip(order.tolist(), values.tolist(), strict=True)
        ]
