"""Settings of the training-data guard (``[data]`` in mlwarden.toml).

A plain pydantic model (no NumPy) so that :mod:`mlwarden.config` can hold it without
importing any ML library; :meth:`DataSettings.poison_options` and friends turn it into the
options of the detectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlwarden.findings import Severity

if TYPE_CHECKING:
    from mlwarden.data.checks import CheckOptions
    from mlwarden.data.poison import PoisonOptions


class DataSettings(BaseModel):
    """[data]: provenance, plain checks, poison detection and the retrain gate (ML02)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    fail_on: Severity = Field(
        Severity.HIGH, description="Exit 1 when a finding is at or above this severity."
    )
    neighbors: int = Field(20, ge=1, le=200, description="Neighbours in the poison vote.")
    vote: float = Field(
        0.3, gt=0, lt=1, description="Flag a sample when fewer neighbours share its label."
    )
    effect_size: float = Field(
        2.0, gt=0, description="Mask features that set a candidate group apart by this much."
    )
    alpha: float = Field(
        1e-8, gt=0, lt=1, description="Significance at which a class is suspected."
    )
    min_flagged: int = Field(5, ge=1, description="Fewest flagged samples to suspect a class.")
    gate: bool = Field(True, description="Run the train-with/without retrain gate.")
    gate_margin: float = Field(
        0.02, ge=0, le=1, description="Largest accuracy drop below the baseline that passes."
    )
    gate_folds: int = Field(5, ge=2, le=20, description="Cross-validation folds of the gate.")
    range_tolerance: float = Field(
        0.05, ge=0, description="Widen baseline ranges by this share of their span."
    )
    near_duplicate: float = Field(
        0.05, ge=0, description="Near duplicate: closer than this x the median neighbour gap."
    )
    label_shift: float = Field(
        0.1, ge=0, le=1, description="Report label shares moving more (total variation)."
    )
    seed: int = Field(0, description="Seed of clustering, IsolationForest and the gate.")

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return Severity.parse(value) if isinstance(value, str) else value

    def poison_options(self) -> PoisonOptions:
        """The detector options these settings give."""
        from mlwarden.data.poison import PoisonOptions

        return PoisonOptions(
            neighbors=self.neighbors,
            vote=self.vote,
            effect_size=self.effect_size,
            alpha=self.alpha,
            min_flagged=self.min_flagged,
            seed=self.seed,
        )

    def check_options(self) -> CheckOptions:
        """The plain checks' options these settings give."""
        from mlwarden.data.checks import CheckOptions

        return CheckOptions(
            range_tolerance=self.range_tolerance,
            near_duplicate=self.near_duplicate,
            label_shift=self.label_shift,
        )
