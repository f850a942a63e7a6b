"""A model wrapped in defences, usable anywhere a classifier is (including the audit).

Order per request: schema check -> preprocessors -> detectors (on the preprocessed input)
-> model. A refused input gets the label :data:`~mlwarden.defenses.base.REJECTED` from
``predict`` and an :class:`~mlwarden.defenses.base.Answer` with the reason from ``decide``.
``calibrate`` calibrates every detector on clean inputs and records what each defence costs,
so the pipeline can state its own false-positive rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlwarden.defenses.base import REJECTED, Answer, Calibration, Detector, Preprocessor
from mlwarden.models.base import Capability

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from mlwarden.defenses.schema import InputSchema
    from mlwarden.models.base import Classifier


class DefendedClassifier:
    """``model`` behind ``preprocessors``, ``detectors`` and an optional input ``schema``.

    It offers ``predict`` (with :data:`REJECTED` for refused inputs) and, when the model
    does, ``predict_proba`` of the preprocessed input. It is not differentiable as a whole:
    adaptive attacks rebuild it in torch (``mlwarden.attacks.adaptive``).
    """

    def __init__(
        self,
        model: Classifier,
        preprocessors: Sequence[Preprocessor] = (),
        detectors: Sequence[Detector] = (),
        schema: InputSchema | None = None,
    ) -> None:
        self.model = model
        self.preprocessors = tuple(preprocessors)
        self.detectors = tuple(detectors)
        self.schema = schema
        self.calibrations: tuple[Calibration, ...] = ()

    @property
    def capabilities(self) -> frozenset[Capability]:
        offered = {Capability.PREDICT, Capability.PREDICT_PROBA}
        return frozenset(offered & set(self.model.capabilities))

    @property
    def n_classes(self) -> int:
        return self.model.n_classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.model.input_shape

    @property
    def queries(self) -> int:
        return self.model.queries

    @property
    def randomized(self) -> bool:
        return any(p.randomized for p in self.preprocessors)

    def preprocess(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Apply every preprocessor in order."""
        for pre in self.preprocessors:
            x = pre.transform(x)
        return x

    def _refusals(
        self, x: NDArray[np.float32], prepared: NDArray[np.float32]
    ) -> list[tuple[str, NDArray[np.bool_]]]:
        out = []
        if self.schema is not None:
            out.append((self.schema.id, self.schema.rejected(x)))
        out.extend((d.id, d.detect(prepared)) for d in self.detectors)
        return out

    def predict(self, x: NDArray[np.float32]) -> NDArray[np.int64]:
        """Labels of the defended model; :data:`REJECTED` (-1) for refused inputs."""
        import numpy as np

        prepared = self.preprocess(x)
        labels = np.asarray(self.model.predict(prepared), dtype=np.int64).copy()
        for _, refused in self._refusals(x, prepared):
            labels[refused] = REJECTED
        return labels

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Probabilities of the model on the preprocessed input (detectors do not change them)."""
        return self.model.predict_proba(self.preprocess(x))  # type: ignore[attr-defined,no-any-return]

    def decide(self, x: NDArray[np.float32]) -> list[Answer]:
        """One :class:`Answer` per input, naming the defence that refused it."""
        import numpy as np

        prepared = self.preprocess(x)
        labels = np.asarray(self.model.predict(prepared), dtype=np.int64)
        reasons = [""] * len(x)
        for name, refused in self._refusals(x, prepared):
            for i in np.flatnonzero(refused):
                reasons[i] = reasons[i] or f"refused by {name}"
        return [
            Answer(None, r) if r else Answer(int(label))
            for label, r in zip(labels, reasons, strict=True)
        ]

    def calibrate(
        self, x_clean: NDArray[np.float32], y: NDArray[np.int64] | None = None
    ) -> tuple[Calibration, ...]:
        """Calibrate detectors on clean inputs; record each defence's and the pipeline's cost.

        For a preprocessor the false-positive rate is the fraction of clean answers it
        changes; for the pipeline it is the fraction of clean inputs refused.
        """
        import numpy as np

        bare = np.asarray(self.model.predict(x_clean))
        records = []
        if self.schema is not None:
            records.append(self.schema.calibrate(x_clean, y))
        prepared = x_clean
        for pre in self.preprocessors:
            prepared = pre.transform(prepared)
            changed = np.asarray(self.model.predict(prepared)) != bare
            acc = (
                None if y is None else float((np.asarray(self.model.predict(prepared)) == y).mean())
            )
            records.append(
                Calibration(pre.id, len(x_clean), float(changed.mean()), clean_accuracy=acc)
            )
        records.extend(d.calibrate(prepared, y) for d in self.detectors)
        labels = self.predict(x_clean)
        acc = None if y is None else float((labels == y).mean())
        records.append(
            Calibration(
                "pipeline", len(x_clean), float((labels == REJECTED).mean()), clean_accuracy=acc
            )
        )
        self.calibrations = tuple(records)
        return self.calibrations
