"""Settings of the drift tests (``[drift]`` in mlwarden.toml).

A plain pydantic model (no NumPy) so that :mod:`mlwarden.config` can hold it;
:meth:`DriftSettings.options` turns it into :class:`~mlwarden.monitor.drift.DriftOptions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlwarden.findings import Severity

if TYPE_CHECKING:
    from mlwarden.monitor.drift import DriftOptions


class DriftSettings(BaseModel):
    """[drift]: decision thresholds of `mlwarden drift` and of the assessment (ML08)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    fail_on: Severity = Field(
        Severity.MEDIUM, description="Exit 1 when a finding is at or above this severity."
    )
    alpha: float = Field(
        0.01, gt=0, lt=1, description="False-alarm rate across all tests of a run (Holm)."
    )
    min_wasserstein: float = Field(
        0.1, ge=0, description="Effect floor: Wasserstein distance in reference std units."
    )
    min_ks: float = Field(0.1, ge=0, le=1, description="Effect floor: KS distance.")
    min_psi: float = Field(0.25, ge=0, description="Effect floor: PSI on reference deciles.")
    min_js: float = Field(0.1, ge=0, le=1, description="Effect floor: Jensen-Shannon distance.")
    min_missing: float = Field(
        0.05, ge=0, le=1, description="Effect floor: change of the missing-value share."
    )
    large: float = Field(3.0, ge=1, description="Effect this many times its floor: high.")
    domain_classifier: bool = Field(True, description="Run the multivariate check.")
    domain_rows: int = Field(10_000, ge=50, description="Rows per side it samples.")
    min_auc: float = Field(
        0.55, gt=0.5, lt=1, description="Domain-classifier AUC that counts as drift."
    )
    bins: int = Field(2048, ge=8, le=65536, description="Histogram bins per numeric column.")
    seed: int = Field(0, description="Sampling seed of the domain classifier.")

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return Severity.parse(value) if isinstance(value, str) else value

    def options(self) -> DriftOptions:
        """The thresholds as :class:`~mlwarden.monitor.drift.DriftOptions`."""
        from mlwarden.monitor.drift import DriftOptions

        fields = self.model_dump(exclude={"fail_on"})
        return DriftOptions(**fields)
