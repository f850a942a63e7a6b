"""Settings of the audit (``[audit]``), its evasion probe (``[audit.evasion]``) and its backdoor
probe (``[audit.backdoor]``); the privacy sections live in :mod:`.privacy_settings`.

Plain pydantic models (no NumPy, no torch) so that ``mlwarden.config`` can hold them without
importing any ML framework; the probes read them as their ``config``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlwarden.attacks.privacy_settings import (
    ExtractionSettings,
    InversionSettings,
    MembershipSettings,
)
from mlwarden.findings import Severity

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)

DefenseName = Literal["squeeze", "smooth", "threshold", "noise"]


class EvasionSettings(BaseModel):
    """[audit.evasion]: robustness to adversarial inputs (ML01)."""

    model_config = _STRICT

    eps: list[float] = Field(
        default_factory=list,
        description="Perturbation sizes of the curve; empty = 0.05,0.1,0.2 (linf), 0.5,1,2 (l2).",
    )
    norm: Literal["linf", "l2"] = Field("linf", description="Norm of the threat model.")
    target_eps: float | None = Field(
        None, gt=0, description="Eps the thresholds apply at; unset = the middle of eps."
    )
    attack: Literal["auto", "whitebox", "blackbox", "both"] = Field(
        "auto", description="auto = white-box when the model gives gradients, else black-box."
    )
    steps: int = Field(40, ge=1, le=10_000, description="PGD/APGD iterations.")
    restarts: int = Field(1, ge=1, le=100, description="Random restarts of PGD/APGD.")
    apgd: bool = Field(True, description="Also run APGD-CE (step-size free) beside PGD.")
    budget: int = Field(1000, ge=2, description="Black-box queries per sample (per attack).")
    clip_min: float | None = Field(None, description="Smallest input value; unset = data min.")
    clip_max: float | None = Field(None, description="Largest input value; unset = data max.")
    image_shape: list[int] = Field(
        default_factory=list, description="(h, w) or (c, h, w) of flat image inputs."
    )
    min_robust_accuracy: float = Field(
        0.7, ge=0, le=1, description="AUD-EVA-001 below this robust accuracy at target_eps."
    )
    max_gap: float = Field(
        0.05, ge=0, le=1, description="AUD-EVA-002 when naive - adaptive accuracy exceeds this."
    )
    max_blackbox_success: float = Field(
        0.25, ge=0, le=1, description="AUD-EVA-003 above this black-box success at target_eps."
    )
    max_defense_fpr: float = Field(
        0.1, ge=0, le=1, description="AUD-EVA-004 when a defence refuses/changes more clean inputs."
    )
    defenses: list[DefenseName] = Field(
        default_factory=list, description="Defences to wrap the model in and evaluate."
    )
    detector_fpr: float = Field(0.05, ge=0, lt=1, description="Target FPR of detectors.")
    squeeze_bits: int = Field(4, ge=1, le=16, description="Bit depth of feature squeezing.")
    squeeze_median: int = Field(
        0, ge=0, le=9, description="Median-filter squeezer window (0 = bit depth only)."
    )
    median_size: int = Field(2, ge=1, le=9, description="Median window of spatial smoothing.")
    noise_sigma: float = Field(0.1, gt=0, description="Scale of the random-noise defence.")
    eot_samples: int = Field(8, ge=1, le=256, description="EOT draws for randomised defences.")
    adaptive_restarts: int = Field(
        3, ge=1, le=100, description="Random restarts of the adaptive attacks on defences."
    )
    adaptive_weight: float = Field(
        1.0, ge=0, description="Weight of detector scores in the adaptive attack's loss."
    )
    examples: int = Field(4, ge=0, le=64, description="Adversarial examples kept in the report.")

    @field_validator("eps")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(not (e > 0) for e in value):
            raise ValueError("every eps must be > 0")
        return sorted(set(value))

    def eps_values(self) -> list[float]:
        """The curve's eps values (defaults per norm)."""
        if self.eps:
            return list(self.eps)
        return [0.05, 0.1, 0.2] if self.norm == "linf" else [0.5, 1.0, 2.0]

    def target(self) -> float:
        """The eps at which thresholds are checked."""
        values = self.eps_values()
        return self.target_eps if self.target_eps is not None else values[len(values) // 2]


class BackdoorSettings(BaseModel):
    """[audit.backdoor]: Neural Cleanse, the trigger test set and STRIP (ML07)."""

    model_config = _STRICT

    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], description="Search seeds.")
    steps: int = Field(300, ge=10, description="Optimisation steps per seed.")
    threshold: float = Field(2.0, gt=0, description="Anomaly index that flags a class.")
    max_ratio: float = Field(
        0.6, gt=0, le=1, description="Flagged trigger norm at most this x the median norm."
    )
    max_trigger_success: float = Field(
        0.5, gt=0, le=1, description="AUD-BD-002 when a trigger sends more inputs to a class."
    )
    strip_frr: float = Field(0.01, gt=0, lt=1, description="STRIP's target false rejections.")
    samples: int = Field(256, ge=8, description="Clean inputs used by the search.")


class AuditSettings(BaseModel):
    """[audit]: attacks that measure a model's exposure."""

    model_config = _STRICT

    fail_on: Severity = Field(
        Severity.MEDIUM, description="Exit 1 when a finding is at or above this severity."
    )
    probes: list[str] = Field(default_factory=lambda: ["evasion"], description="Probes to run.")
    max_samples: int = Field(200, ge=1, description="Inputs attacked (a stratified sample).")
    seed: int = Field(0, description="Seed of sampling and of every attack.")
    batch_size: int = Field(256, ge=1, description="Inputs per forward pass (white-box).")
    evasion: EvasionSettings = Field(
        default_factory=EvasionSettings, description="[audit.evasion]: the evasion probe (ML01)."
    )
    membership: MembershipSettings = Field(
        default_factory=MembershipSettings,
        description="[audit.membership]: membership inference (ML04).",
    )
    inversion: InversionSettings = Field(
        default_factory=InversionSettings, description="[audit.inversion]: model inversion (ML03)."
    )
    extraction: ExtractionSettings = Field(
        default_factory=ExtractionSettings,
        description="[audit.extraction]: model theft (ML05).",
    )
    backdoor: BackdoorSettings = Field(
        default_factory=BackdoorSettings, description="[audit.backdoor]: the backdoor probe (ML07)."
    )

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return Severity.parse(value) if isinstance(value, str) else value
