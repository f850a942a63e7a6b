"""Settings of the privacy and theft probes: ``[audit.membership]``, ``[audit.inversion]``,
``[audit.extraction]``.

Plain pydantic models (no NumPy) like :mod:`mlwarden.attacks.settings`; the probes read them
from ``config.membership`` (etc.) when :class:`~mlwarden.attacks.settings.AuditSettings`
holds them, and use these defaults otherwise.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)

ThresholdAttack = Literal["loss", "confidence", "entropy", "modified_entropy"]
Strategy = Literal["natural", "uniform", "jacobian", "active"]
PolicyName = Literal["probabilities", "rounded", "top_k", "label"]
_STRATEGIES: tuple[Strategy, ...] = ("natural", "uniform", "jacobian", "active")
_POLICIES: tuple[PolicyName, ...] = ("probabilities", "rounded", "top_k", "label")


class MembershipSettings(BaseModel):
    """[audit.membership]: membership inference (ML04)."""

    model_config = _STRICT

    references: int = Field(8, ge=0, le=256, description="Reference models (0 = none).")
    mode: Literal["online", "offline"] = Field(
        "online",
        description="online: references trained on random halves of members, non-members and "
        "population (LiRA online + offline + RMIA); offline: on population data only.",
    )
    label_only: bool = Field(True, description="Run the label-only (perturbation) attack.")
    label_only_queries: int = Field(32, ge=2, le=1000, description="Noisy copies per record.")
    label_only_sigma: float = Field(0.15, gt=0, description="Noise, in feature standard devs.")
    max_members: int = Field(2000, ge=10, description="Members attacked (a random subset).")
    max_nonmembers: int = Field(2000, ge=10, description="Non-members attacked.")
    rmia_a: float = Field(0.3, ge=0, le=1, description="RMIA offline scaling of Pr(x).")
    bootstrap: int = Field(200, ge=0, le=10_000, description="Bootstrap resamples for CIs.")
    exposed: int = Field(10, ge=0, le=1000, description="Most exposed member records listed.")
    jobs: int = Field(0, ge=0, description="Processes for reference models; 0 = one per core.")
    max_tpr_at_1pct_fpr: float = Field(
        0.03, ge=0, le=1, description="AUD-MIA-001 when an attack's TPR at 1% FPR exceeds this."
    )
    max_auc: float = Field(0.6, ge=0.5, le=1, description="AUD-MIA-001 above this AUC.")
    max_gap: float = Field(
        0.1, ge=0, le=1, description="AUD-MIA-002 when train - test accuracy exceeds this."
    )


class InversionSettings(BaseModel):
    """[audit.inversion]: attribute inference and class reconstruction (ML03)."""

    model_config = _STRICT

    sensitive: list[int] = Field(
        default_factory=list, description="Sensitive column indices (empty = auto: tabular only)."
    )
    max_values: int = Field(8, ge=2, le=64, description="Candidate values per sensitive column.")
    max_records: int = Field(1000, ge=10, description="Records attacked per sensitive column.")
    reconstruct: Literal["auto", "whitebox", "blackbox", "off"] = Field(
        "auto", description="Class reconstruction (images): auto = white-box if gradients."
    )
    steps: int = Field(300, ge=1, le=100_000, description="Reconstruction steps per class.")
    max_advantage: float = Field(
        0.05, ge=0, le=1, description="AUD-INV-001 when attribute advantage exceeds this."
    )
    max_identification: float = Field(
        0.5, ge=0, le=1, description="AUD-INV-002 when this share of classes is recognisable."
    )


class ExtractionSettings(BaseModel):
    """[audit.extraction]: model theft by surrogate training and equation solving (ML05)."""

    model_config = _STRICT

    budgets: list[int] = Field(
        default_factory=lambda: [100, 1000, 10000], description="Query budgets of the curve."
    )
    strategies: list[Strategy] = Field(
        default_factory=lambda: list(_STRATEGIES),
        description="Query strategies.",
    )
    policies: list[PolicyName] = Field(
        default_factory=lambda: list(_POLICIES),
        description="Output policies attacked (those the model cannot answer are skipped).",
    )
    decimals: int = Field(2, ge=0, le=8, description="Rounding of the 'rounded' policy.")
    top_k: int = Field(1, ge=1, description="Classes answered by the 'top_k' policy.")
    hidden: int = Field(128, ge=4, le=4096, description="Hidden units of the surrogate MLP.")
    ensemble: int = Field(3, ge=1, le=16, description="Surrogates averaged into the copy.")
    equation_solving: bool = Field(True, description="Try exact recovery of a linear model.")
    jobs: int = Field(0, ge=0, description="Processes for surrogate training; 0 = one per core.")
    max_fidelity: float = Field(
        0.9, ge=0, le=1, description="AUD-EXT-001 when a surrogate's fidelity reaches this."
    )
    at_budget: int = Field(1000, ge=1, description="Budget at which max_fidelity applies.")

    @field_validator("budgets")
    @classmethod
    def _budgets(cls, value: list[int]) -> list[int]:
        if not value or any(b < 10 for b in value):
            raise ValueError("budgets must be a non-empty list of values >= 10")
        return sorted(set(value))


def section(config: Any, name: str, default: type[BaseModel]) -> Any:
    """``config.<name>`` when the audit settings hold that section, else its defaults."""
    value = getattr(config, name, None)
    return value if isinstance(value, default) else default()
