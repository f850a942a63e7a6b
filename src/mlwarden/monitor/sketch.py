"""Drift profile: a per-column summary of reference data, built once and kept as JSON.

A numeric column keeps a fine histogram (2,048 equal-width bins between its 0.1% and 99.9%
quantiles, plus a slot below and one above with the summed excess beyond the range), its
mean, spread and missing count; a categorical column keeps its category counts. Every drift
statistic of :mod:`mlwarden.monitor.drift` is computed from these counts and a current
sample binned the same way, so a saved profile tests new data without the reference rows
(and without leaking them). A profile can be signed with the integrity module's keys.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlwarden.errors import InputError, UsageError
from mlwarden.monitor.frame import as_frame

if TYPE_CHECKING:
    from mlwarden.integrity.keys import SigningKey, VerifyingKey

PROFILE_KIND = "mlwarden-drift-profile"
PROFILE_VERSION = 1
PAYLOAD_TYPE = "application/vnd.mlwarden.drift-profile+json"
OTHER = "(other)"
_RANGE_SAMPLE = 200_000


@dataclass(frozen=True)
class Binned:
    """A sample on a column's bins: slot counts, and for numeric columns the tail excesses."""

    counts: NDArray[np.int64]
    missing: int
    below: float = 0.0
    above: float = 0.0


@dataclass(frozen=True)
class NumericSketch:
    """Histogram summary of a numeric column (``counts``: below, ``bins`` inner, above)."""

    name: str
    lo: float
    hi: float
    counts: NDArray[np.int64]
    missing: int
    below: float
    above: float
    mean: float
    std: float
    kind: str = field(default="numeric", init=False)

    @property
    def edges(self) -> NDArray[np.float64]:
        return np.linspace(self.lo, self.hi, len(self.counts) - 1)

    def bin(self, values: NDArray[Any]) -> Binned:
        """Count ``values`` (float64, NaN = missing) on this column's bins.

        Raises:
            UsageError: a value is infinite (no distance to it is finite).
        """
        values = np.asarray(values, dtype=np.float64)
        if np.isinf(values).any():
            raise UsageError(f"column {self.name!r} holds infinite values")
        nan = np.isnan(values)
        missing = int(nan.sum())
        if missing:
            values = values[~nan]
        inner = len(self.counts) - 2
        t = np.subtract(values, self.lo)
        t *= inner / (self.hi - self.lo)
        np.clip(t, -1.0, float(inner), out=t)
        np.floor(t, out=t)
        idx = t.astype(np.intp)
        idx += 1
        counts = np.bincount(idx, minlength=inner + 2).astype(np.int64)
        below = float((self.lo - values[idx == 0]).sum()) if counts[0] else 0.0
        above = float((values[idx == inner + 1] - self.hi).sum()) if counts[-1] else 0.0
        return Binned(counts, missing, below, above)

    def reference(self) -> Binned:
        return Binned(self.counts, self.missing, self.below, self.above)


@dataclass(frozen=True)
class CategoricalSketch:
    """Category counts of a categorical column (rare ones beyond the cap under ``(other)``)."""

    name: str
    categories: tuple[str, ...]
    counts: NDArray[np.int64]
    missing: int
    kind: str = field(default="categorical", init=False)

    def bin(self, values: NDArray[Any]) -> tuple[tuple[str, ...], Binned, Binned]:
        """Categories of reference and ``values`` together, and both samples' counts on them.

        Categories the reference never had get slots of their own (reference count 0),
        unless the reference folded its rare ones into ``(other)``: then they count there.
        """
        seen = Counter(str(v) for v in values.tolist() if v is not None)
        missing = len(values) - sum(seen.values())
        known = set(self.categories)
        new = sorted(c for c in seen if c not in known)
        if OTHER in known:
            seen[OTHER] += sum(seen.pop(c) for c in new)
            new = []
        labels = (*self.categories, *new)
        ref = np.concatenate([self.counts, np.zeros(len(new), np.int64)])
        cur = np.array([seen.get(c, 0) for c in labels], dtype=np.int64)
        return labels, Binned(ref, self.missing), Binned(cur, missing)

    def reference(self) -> Binned:
        return Binned(self.counts, self.missing)


Sketch = NumericSketch | CategoricalSketch


@dataclass(frozen=True)
class DriftProfile:
    """Per-column sketches of reference data (see the module docstring).

    Attributes:
        rows: reference rows summarised.
        features: one sketch per column, in column order.
        signature: DSSE-style signature over :meth:`canonical` (``None`` when unsigned).
    """

    rows: int
    features: tuple[Sketch, ...]
    signature: dict[str, str] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def sketch(self, name: str) -> Sketch:
        return self.features[self.names.index(name)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready), the signature included."""
        out = {"kind": PROFILE_KIND, "version": PROFILE_VERSION, **self._payload()}
        if self.signature is not None:
            out["signature"] = dict(self.signature)
        return out

    def _payload(self) -> dict[str, Any]:
        return {"rows": self.rows, "features": [_sketch_dict(f) for f in self.features]}

    def canonical(self) -> bytes:
        """The signed bytes: the profile without its signature, as canonical JSON."""
        return json.dumps(self._payload(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftProfile:
        """Rebuild a profile written by :meth:`to_dict`.

        Raises:
            InputError: the data is not a drift profile of a supported version.
        """
        if data.get("kind") != PROFILE_KIND or data.get("version") != PROFILE_VERSION:
            raise InputError("not a drift profile of a supported version (mlwarden drift profile)")
        try:
            features = tuple(_sketch_from(f) for f in data["features"])
            signature = data.get("signature")
            profile = cls(int(data["rows"]), features, dict(signature) if signature else None)
            if profile.rows < 0:
                raise ValueError("negative row count")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"invalid drift profile: {exc}") from None
        if len(set(profile.names)) != len(profile.names) or not features:
            raise InputError("invalid drift profile: no columns or duplicate column names")
        return profile

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> DriftProfile:
        """Read a profile written by :meth:`save`."""
        from mlwarden.monitor.profile import read_json_object

        return cls.from_dict(read_json_object(path, "drift profile"))

    def sign(self, key: SigningKey) -> DriftProfile:
        """This profile with a signature by ``key`` over :meth:`canonical`."""
        from mlwarden.integrity.detached import sign_detached

        return replace(self, signature=sign_detached(PAYLOAD_TYPE, self.canonical(), key))

    def verify(self, key: VerifyingKey) -> None:
        """Raise :class:`~mlwarden.integrity.errors.SignatureError` unless ``key`` signed it."""
        from mlwarden.integrity.detached import verify_detached

        verify_detached(
            self.signature,
            PAYLOAD_TYPE,
            self.canonical(),
            key,
            rule_id="DRIFT-PRF-001",
            what="drift profile",
        )


def build_profile(
    data: Any,
    *,
    names: list[str] | tuple[str, ...] | None = None,
    bins: int = 2048,
    max_categories: int = 200,
) -> DriftProfile:
    """Summarise reference data (a path, array, mapping of columns, DataFrame or Frame).

    Raises:
        UsageError: fewer than 2 rows, or a numeric column without a finite value.
    """
    if not 8 <= bins <= 65536:
        raise UsageError("bins must be between 8 and 65536")
    frame = as_frame(data, names)
    if frame.rows < 2:
        raise UsageError("a drift profile needs at least 2 reference rows")
    features = tuple(
        _numeric(n, c, bins) if c.dtype.kind == "f" else _categorical(n, c, max_categories)
        for n, c in zip(frame.names, frame.columns, strict=True)
    )
    return DriftProfile(frame.rows, features)


def _numeric(name: str, col: NDArray[np.float64], bins: int) -> NumericSketch:
    if np.isinf(col).any():
        raise UsageError(f"column {name!r} holds infinite values")
    values = col[~np.isnan(col)]
    if not len(values):
        raise UsageError(f"column {name!r} has no values in the reference")
    # The range only places the bins: quantiles of a fixed sample are precise enough.
    step = max(1, len(values) // _RANGE_SAMPLE)
    lo, hi = (float(v) for v in np.quantile(values[::step], [0.001, 0.999]))
    if hi <= lo:  # nearly constant: the full range, or a unit bin around the constant
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo:
            # A unit bin around the constant; relative for huge values, where +-0.5 is lost
            # to rounding and the bins would have no width.
            pad = max(0.5, abs(lo) * 1e-6)
            lo, hi = lo - pad, hi + pad
    empty = NumericSketch(name, lo, hi, np.zeros(bins + 2, np.int64), 0, 0.0, 0.0, 0.0, 0.0)
    binned = empty.bin(values)
    return replace(
        empty,
        counts=binned.counts,
        missing=len(col) - len(values),
        below=binned.below,
        above=binned.above,
        mean=float(values.mean()),
        std=float(values.std()),
    )


def _categorical(name: str, col: NDArray[Any], cap: int) -> CategoricalSketch:
    seen = Counter(str(v) for v in col.tolist() if v is not None)
    ranked = seen.most_common()
    kept = sorted(ranked[:cap])
    labels = [c for c, _ in kept]
    counts = [n for _, n in kept]
    if len(ranked) > cap:
        labels.append(OTHER)
        counts.append(sum(n for _, n in ranked[cap:]))
    missing = len(col) - sum(seen.values())
    return CategoricalSketch(name, tuple(labels), np.asarray(counts, np.int64), missing)


def _sketch_dict(sketch: Sketch) -> dict[str, Any]:
    if isinstance(sketch, NumericSketch):
        return {
            "name": sketch.name,
            "kind": "numeric",
            "lo": sketch.lo,
            "hi": sketch.hi,
            "counts": _runs(sketch.counts),
            "missing": sketch.missing,
            "below": sketch.below,
            "above": sketch.above,
            "mean": sketch.mean,
            "std": sketch.std,
        }
    return {
        "name": sketch.name,
        "kind": "categorical",
        "categories": list(sketch.categories),
        "counts": sketch.counts.tolist(),
        "missing": sketch.missing,
    }


def _sketch_from(data: dict[str, Any]) -> Sketch:
    if data["kind"] == "numeric":
        counts = _unruns(data["counts"])
        numbers = [float(data[k]) for k in ("lo", "hi", "below", "above", "mean", "std")]
        lo, hi = numbers[0], numbers[1]
        if len(counts) < 10 or not hi > lo or (counts < 0).any():
            raise ValueError(f"column {data['name']!r}: bad histogram")
        if (
            not all(math.isfinite(v) for v in numbers)
            or min(numbers[2], numbers[3], numbers[5]) < 0
        ):
            raise ValueError(f"column {data['name']!r}: a summary number is not finite or < 0")
        if int(data["missing"]) < 0:
            raise ValueError(f"column {data['name']!r}: negative missing count")
        return NumericSketch(
            str(data["name"]),
            lo,
            hi,
            counts,
            int(data["missing"]),
            float(data["below"]),
            float(data["above"]),
            float(data["mean"]),
            float(data["std"]),
        )
    if data["kind"] != "categorical":
        raise ValueError(f"unknown column kind {data['kind']!r}")
    cats = tuple(str(c) for c in data["categories"])
    counts = np.asarray(data["counts"], dtype=np.int64)
    if len(cats) != len(counts) or len(set(cats)) != len(cats):
        raise ValueError(f"column {data['name']!r}: categories and counts differ")
    if (counts < 0).any() or int(data["missing"]) < 0:
        raise ValueError(f"column {data['name']!r}: negative counts")
    return CategoricalSketch(str(data["name"]), cats, counts, int(data["missing"]))


def _runs(counts: NDArray[np.int64]) -> list[int]:
    """Zero runs written as negative lengths: sparse histograms stay small in JSON."""
    out: list[int] = []
    for value in counts.tolist():
        if value == 0 and out and out[-1] < 0:
            out[-1] -= 1
        else:
            out.append(-1 if value == 0 else value)
    return out


def _unruns(runs: list[int]) -> NDArray[np.int64]:
    out: list[int] = []
    for value in runs:
        out.extend([0] * -int(value) if int(value) < 0 else [int(value)])
    return np.asarray(out, dtype=np.int64)
