"""Input schema validation: refuse inputs that the training data says cannot occur.

:meth:`InputSchema.fit` learns, from training data, the input shape, that values are
numeric, and a per-feature range (min/max widened by a margin). :meth:`InputSchema.check`
raises :class:`InputViolation` naming the first problems (NaN, infinity, wrong shape or
dtype, out-of-range feature); :meth:`InputSchema.rejected` flags rows for batch use. The
schema is plain data (``to_dict``/``from_dict``) so a gateway policy can carry it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlwarden.defenses.base import Calibration
from mlwarden.errors import MlwardenError, UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class Violation:
    """One reason an input row breaks the schema."""

    row: int
    kind: str  # shape, dtype, nan, inf, below_min, above_max
    message: str
    feature: int | None = None


class InputViolation(MlwardenError):
    """An input breaks the schema learned from the training data."""

    hint = "Send inputs shaped and scaled like the training data (see the schema's ranges)."

    def __init__(self, violations: list[Violation]) -> None:
        shown = "; ".join(f"row {v.row}: {v.message}" for v in violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"input rejected by the schema: {shown}{more}")
        self.violations = violations


@dataclass
class InputSchema:
    """Shape, numeric type and per-feature ranges that valid inputs follow.

    Attributes:
        input_shape: shape of one input.
        dtype: dtype of the training data (any numeric input is accepted).
        minimum: lowest allowed value per flat feature.
        maximum: highest allowed value per flat feature.
        margin: fraction of each feature's range the bounds were widened by.
    """

    input_shape: tuple[int, ...]
    dtype: str
    minimum: tuple[float, ...]
    maximum: tuple[float, ...]
    margin: float = 0.05
    calibration: Calibration | None = field(default=None, compare=False)
    id: str = field(default="input_schema", init=False)

    @classmethod
    def fit(cls, x: NDArray[Any], margin: float = 0.05) -> InputSchema:
        """Learn the schema of training inputs ``x`` (shape ``(n, *input_shape)``)."""
        import numpy as np

        arr = np.asarray(x)
        if arr.ndim < 2 or len(arr) == 0 or arr.dtype.kind not in "fiub":
            raise UsageError("fit the schema on a numeric array of shape (n, *input_shape)")
        flat = arr.reshape(len(arr), -1).astype(np.float64)
        if not np.isfinite(flat).all():
            raise UsageError("training data holds NaN or infinite values; clean it first")
        lo, hi = flat.min(axis=0), flat.max(axis=0)
        pad = margin * np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
        return cls(
            tuple(int(s) for s in arr.shape[1:]),
            str(arr.dtype),
            tuple(float(v) for v in lo - pad),
            tuple(float(v) for v in hi + pad),
            margin,
        )

    def violations(self, x: NDArray[Any], limit: int = 100) -> list[Violation]:
        """Up to ``limit`` violations of ``x`` (a batch, or one input of ``input_shape``)."""
        import numpy as np

        arr = np.asarray(x)
        if arr.shape == self.input_shape:
            arr = arr[None]
        if arr.dtype.kind not in "fiub":
            return [Violation(0, "dtype", f"values must be numeric, not {arr.dtype}")]
        if arr.shape[1:] != self.input_shape:
            shape = f"{arr.shape[1:]}"
            return [Violation(0, "shape", f"input shape {shape} != expected {self.input_shape}")]
        flat = arr.reshape(len(arr), -1).astype(np.float64)
        finite = np.isfinite(flat)
        with np.errstate(invalid="ignore"):
            checks = (
                ("nan", np.isnan(flat), "is NaN"),
                ("inf", np.isinf(flat), "is infinite"),
                ("below_min", finite & (flat < np.asarray(self.minimum)), "is below the minimum"),
                ("above_max", finite & (flat > np.asarray(self.maximum)), "is above the maximum"),
            )
        found: list[Violation] = []
        for kind, mask, text in checks:
            for row, feat in np.argwhere(mask)[:limit]:
                bound = self.minimum[feat] if kind == "below_min" else self.maximum[feat]
                extra = f" {bound:.6g}" if kind in ("below_min", "above_max") else ""
                message = f"feature {feat} = {flat[row, feat]:.6g} {text}{extra}"
                found.append(Violation(int(row), kind, message, int(feat)))
        return sorted(found, key=lambda v: (v.row, v.feature or 0))[:limit]

    def rejected(self, x: NDArray[Any]) -> NDArray[np.bool_]:
        """Per row of ``x``: whether it breaks the schema (all rows on shape/dtype errors)."""
        import numpy as np

        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub" or arr.shape[1:] != self.input_shape:
            return np.ones(len(arr), dtype=bool)
        flat = arr.reshape(len(arr), -1).astype(np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(flat) | (flat < np.asarray(self.minimum))
            bad |= flat > np.asarray(self.maximum)
        return np.asarray(bad.any(axis=1))

    def check(self, x: NDArray[Any]) -> None:
        """Raise :class:`InputViolation` when any row of ``x`` breaks the schema."""
        found = self.violations(x)
        if found:
            raise InputViolation(found)

    def calibrate(self, x_clean: NDArray[Any], y: NDArray[np.int64] | None = None) -> Calibration:
        """Record the fraction of clean (held-out) inputs the schema refuses."""
        rate = float(self.rejected(x_clean).mean()) if len(x_clean) else 0.0
        self.calibration = Calibration(self.id, len(x_clean), rate)
        return self.calibration

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a policy file."""
        return {
            "input_shape": list(self.input_shape),
            "dtype": self.dtype,
            "minimum": list(self.minimum),
            "maximum": list(self.maximum),
            "margin": self.margin,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        """Rebuild a schema written by :meth:`to_dict`."""
        try:
            schema = cls(
                tuple(int(v) for v in data["input_shape"]),
                str(data["dtype"]),
                tuple(float(v) for v in data["minimum"]),
                tuple(float(v) for v in data["maximum"]),
                float(data.get("margin", 0.05)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"invalid input schema: {exc}") from None
        if len(schema.minimum) != len(schema.maximum):
            raise UsageError("invalid input schema: minimum and maximum differ in length")
        return schema
