"""Settings of the assessment (``[assess]`` in mlwarden.toml): what runs, and the thresholds
that turn measured numbers into pass / warn / fail.

A plain pydantic model (no NumPy) so that :mod:`mlwarden.config` can hold it. The attacks
keep their own settings in ``[audit]``; these thresholds judge the numbers they measure. A
risk's status is the worst of its threshold verdicts and of its findings (critical or high:
fail, medium: warn).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AssessSettings(BaseModel):
    """[assess]: the Top-10 assessment (`mlwarden assess`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    fail_on: Literal["warn", "fail"] = Field(
        "fail", description="Exit 1 when a risk has this status (or worse)."
    )
    quick: bool = Field(False, description="Smaller attack budgets (about 4x faster).")
    attacks: bool = Field(True, description="Run the attacks (evasion, privacy, theft).")
    robust_warn: float = Field(
        0.8, ge=0, le=1, description="ML01: warn below this robust/clean accuracy ratio."
    )
    robust_fail: float = Field(
        0.5, ge=0, le=1, description="ML01: fail below this robust/clean accuracy ratio."
    )
    robust_eps: float | None = Field(
        None, gt=0, description="ML01: perturbation judged (default: [audit.evasion] target)."
    )
    advantage_warn: float = Field(
        0.05, ge=0, le=1, description="ML03: warn at this attribute-inference advantage."
    )
    advantage_fail: float = Field(
        0.15, ge=0, le=1, description="ML03: fail at this attribute-inference advantage."
    )
    mia_tpr_warn: float = Field(
        0.02, ge=0, le=1, description="ML04: warn at this membership TPR at 1% FPR."
    )
    mia_tpr_fail: float = Field(
        0.05, ge=0, le=1, description="ML04: fail at this membership TPR at 1% FPR."
    )
    fidelity_warn: float = Field(
        0.8, ge=0, le=1, description="ML05: warn at this extracted-copy fidelity."
    )
    fidelity_fail: float = Field(
        0.95, ge=0, le=1, description="ML05: fail at this extracted-copy fidelity."
    )
    extraction_budget: int = Field(
        1000, ge=1, description="ML05: queries the extraction is judged at (per output policy)."
    )
    max_queries: int | None = Field(
        None, ge=1, description="Live endpoint: most samples the attacks may send (unset: no cap)."
    )
    max_retry_wait: float = Field(
        10.0,
        gt=0,
        description="Live endpoint: longest Retry-After honoured; a gateway that throttles "
        "for longer stops the attacks (and the report says so) instead of stalling them.",
    )

    @model_validator(mode="before")
    @classmethod
    def _ordered(cls, data: Any) -> Any:
        """Warn thresholds come before fail ones (checked before an assignment lands)."""
        if not isinstance(data, dict):
            return data
        pairs = (
            ("robust_fail", "robust_warn"),
            ("advantage_warn", "advantage_fail"),
            ("mia_tpr_warn", "mia_tpr_fail"),
            ("fidelity_warn", "fidelity_fail"),
        )
        for low, high in pairs:
            try:
                a = float(data.get(low, cls.model_fields[low].default))
                b = float(data.get(high, cls.model_fields[high].default))
            except (TypeError, ValueError):
                continue  # the field's own validation reports it
            if a > b:
                raise ValueError(f"{low} must not exceed {high}")
        return data
